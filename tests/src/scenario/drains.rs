//! How the scenario runs drains: several at once, some killed after a few polls, some
//! hung and killed, and zombies: owners paused at a protocol step past their lease while
//! another owner takes the actor over, then resumed.

use std::sync::Arc;
use std::time::Duration;

use mqless::mailbox::ActorHost;
use mqless::store::Store;
use mqless::testing::{FaultyStore, Pause, PausePoint};
use mqless::ActorId;

use super::{Log, Params, Stats, LEASE};

enum Ended {
    Done(bool),
    Failed,
    Killed,
    Hung,
}

/// Where zombies stop.
pub(super) const ZOMBIE_POINTS: [PausePoint; 4] = [
    PausePoint::AfterAcquire,
    PausePoint::BeforeRead,
    PausePoint::BeforeCommit,
    PausePoint::BeforeCleanup,
];

/// An owner paused at a protocol step past its lease, after another owner took over.
pub(super) struct Zombie {
    pause: Pause,
    task: tokio::task::JoinHandle<Result<mqless::mailbox::DrainReport, mqless::Error>>,
}

impl Zombie {
    /// Starts a drain of `id` on the first host that stops at `point` (after `skip`
    /// such calls); once it is stopped, expires its lease and lets the second host
    /// drain the actor. `None` if the drain ended before reaching the point.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn start<S: Store>(
        store: &FaultyStore<S>,
        clock: &mqless::testing::ManualClock,
        hosts: &[Arc<ActorHost<Log>>; 2],
        id: ActorId,
        point: PausePoint,
        skip: u32,
        params: &Params,
        stats: &mut Stats,
    ) -> Option<Self> {
        let address = mqless::id::Address::new(
            mqless::id::ActorType::new(<Log as mqless::Actor>::TYPE_NAME).unwrap(),
            id.clone(),
        );
        let mut pause = store.pause(address, point, skip);
        let (host, zombie_id) = (hosts[0].clone(), id.clone());
        stats.drains += 1;
        let mut task = tokio::spawn(async move { host.drain(&zombie_id).await });
        tokio::select! {
            () = pause.reached() => {}
            _ = &mut task => {
                store.disarm_pause();
                return None;
            }
            // Stuck before the point (on a poison message): killed, no zombie.
            () = tokio::time::sleep(params.hang_timeout) => {
                store.disarm_pause();
                task.abort();
                let _ = task.await;
                stats.hung_drains += 1;
                return None;
            }
        }
        clock.advance(LEASE + Duration::from_millis(1));
        race_drains(
            vec![(hosts[1].clone(), id, None)],
            params.hang_timeout,
            stats,
        )
        .await;
        stats.zombies += 1;
        Some(Self { pause, task })
    }

    /// Resumes the zombie and waits for it (killing it if it hangs on a poison message).
    pub(super) async fn finish(self, hang_timeout: Duration, stats: &mut Stats) {
        let Self { pause, mut task } = self;
        pause.resume();
        match tokio::time::timeout(hang_timeout.max(Duration::from_secs(1)), &mut task).await {
            Ok(Ok(Ok(_))) => {}
            Ok(Ok(Err(_))) => stats.failed_drains += 1,
            Ok(Err(error)) if error.is_cancelled() => stats.crashed_drains += 1,
            Ok(Err(error)) => std::panic::resume_unwind(error.into_panic()),
            Err(_) => {
                task.abort();
                let _ = task.await;
                stats.hung_drains += 1;
            }
        }
    }
}

/// Runs drains of `targets` at once; each may be killed after a few polls
/// (`crash_at`), and any still running after `hang_timeout` is killed as hung.
pub(super) async fn race_drains(
    targets: Vec<(Arc<ActorHost<Log>>, ActorId, Option<u64>)>,
    hang_timeout: Duration,
    stats: &mut Stats,
) {
    let mut tasks = Vec::new();
    for (host, id, crash_at) in targets {
        stats.drains += 1;
        let task = tokio::spawn(async move { host.drain(&id).await });
        tasks.push((task, crash_at));
    }
    for step in 0..4 {
        for (task, crash_at) in &tasks {
            if *crash_at == Some(step) {
                task.abort();
            }
        }
        tokio::task::yield_now().await;
    }
    for (mut task, _) in tasks {
        let ended = match tokio::time::timeout(hang_timeout, &mut task).await {
            Ok(Ok(Ok(report))) => Ended::Done(report.optimistic),
            Ok(Ok(Err(_))) => Ended::Failed,
            Ok(Err(error)) if error.is_cancelled() => Ended::Killed,
            Ok(Err(error)) => std::panic::resume_unwind(error.into_panic()),
            Err(_) => {
                // Wait until the killed task is gone: a process that was killed does not
                // go on running (a paused one, a zombie, is another scenario).
                task.abort();
                let _ = task.await;
                Ended::Hung
            }
        };
        match ended {
            Ended::Done(optimistic) => stats.optimistic_drains += u64::from(optimistic),
            Ended::Failed => stats.failed_drains += 1,
            Ended::Killed => stats.crashed_drains += 1,
            Ended::Hung => stats.hung_drains += 1,
        }
    }
}
