//! How the scenario runs drains, on the testing kit's [`FaultWorld`]: several at once,
//! some killed after a few polls, some hung and killed, and zombies: owners paused at a
//! protocol step past their lease while another owner takes the actor over, then resumed.

use std::time::Duration;

use mqless::id::Address;
use mqless::store::Store;
use mqless::testing::{DrainEnded, DrainTarget, FaultWorld, Pause, PausePoint};
use mqless::ActorId;

use super::{log_address, Log, Stats};

/// Where zombies stop.
pub(super) const ZOMBIE_POINTS: [PausePoint; 4] = [
    PausePoint::AfterAcquire,
    PausePoint::BeforeRead,
    PausePoint::BeforeCommit,
    PausePoint::BeforeCleanup,
];

/// Races the drains of `targets` (host process, actor, polls before it is killed) and
/// counts how they ended.
pub(super) async fn race_drains<S: Store>(
    world: &mut FaultWorld<S>,
    targets: Vec<(usize, Address, Option<u64>)>,
    stats: &mut Stats,
) {
    let targets = targets
        .into_iter()
        .map(|(host, address, kill_after)| DrainTarget {
            host,
            address,
            kill_after,
        })
        .collect();
    for (address, ended) in world.race(targets).await {
        count(&ended, stats);
        world.retry_or_give_up(address, &ended);
    }
}

fn count(ended: &DrainEnded, stats: &mut Stats) {
    stats.drains += 1;
    match ended {
        DrainEnded::Done(report) => stats.optimistic_drains += u64::from(report.optimistic),
        DrainEnded::Failed(_) => stats.failed_drains += 1,
        DrainEnded::Killed => stats.crashed_drains += 1,
        DrainEnded::Hung => stats.hung_drains += 1,
        DrainEnded::NoHost => panic!("the Log actor runs on every host"),
    }
}

/// An owner paused at a protocol step past its lease, after another owner took over.
pub(super) struct Zombie {
    pause: Pause,
    address: Address,
    task: tokio::task::JoinHandle<Result<mqless::mailbox::DrainReport, mqless::Error>>,
}

impl Zombie {
    /// Starts a drain of `id` on the first host that stops at `point` (after `skip`
    /// such calls); once it is stopped, expires its lease and lets the second host
    /// drain the actor. `None` if the drain ended before reaching the point.
    pub(super) async fn start<S: Store>(
        world: &mut FaultWorld<S>,
        id: ActorId,
        point: PausePoint,
        skip: u32,
        hang_timeout: Duration,
        stats: &mut Stats,
    ) -> Option<Self> {
        let address = log_address(id.clone());
        let mut pause = world.store().pause(address.clone(), point, skip);
        let host = world.hosts()[0].host::<Log>().unwrap();
        stats.drains += 1;
        let before = world.version_of(&address).await;
        let mut task = tokio::spawn(async move { host.drain(&id).await });
        tokio::select! {
            () = pause.reached() => {}
            _ = &mut task => {
                world.store().disarm_pause();
                return None;
            }
            // Stuck before the point (on a poison message, or on a loaded machine): killed,
            // no zombie. Killed after a commit, it may not have woken what it sent.
            () = tokio::time::sleep(hang_timeout) => {
                world.store().disarm_pause();
                task.abort();
                let _ = task.await;
                stats.hung_drains += 1;
                if world.version_of(&address).await > before {
                    world.lost_wake_ups_to_everyone();
                }
                return None;
            }
        }
        world.pass_the_lease();
        race_drains(world, vec![(1, address.clone(), None)], stats).await;
        stats.zombies += 1;
        Some(Self {
            pause,
            address,
            task,
        })
    }

    /// Resumes the zombie and waits for it (killing it if it hangs on a poison message).
    pub(super) async fn finish<S: Store>(
        self,
        world: &FaultWorld<S>,
        hang_timeout: Duration,
        stats: &mut Stats,
    ) {
        let Self {
            pause,
            address,
            mut task,
        } = self;
        let before = world.version_of(&address).await;
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
                // Its commit can land when the owner after it committed nothing.
                if world.version_of(&address).await > before {
                    world.lost_wake_ups_to_everyone();
                }
            }
        }
    }
}
