//! Zombies: an owner paused at a chosen protocol step, past its lease, while another
//! owner takes the actor over; then resumed. Fencing exists for exactly this owner (a
//! process frozen by GC, a slow call, a frozen Lambda), so fault scenarios make it on
//! purpose.

use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::id::Address;

/// The protocol step at which the next owner of an actor stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PausePoint {
    /// Right after its acquire took effect: it holds the lease and the state it read.
    AfterAcquire,
    /// Before a mailbox read: at the start of a batch, or between batches (mid-drain).
    BeforeRead,
    /// Before its commit: the batch is applied in memory, nothing written.
    BeforeCommit,
    /// After its commit, before its cleanup (deleting the consumed messages, writing
    /// replies and dead letters).
    BeforeCleanup,
}

/// A pause armed with [`FaultyStore::pause`](super::FaultyStore::pause): wait until the
/// owner reached it, do whatever the zombie must not see, then resume it.
#[derive(Debug)]
pub struct Pause {
    reached: oneshot::Receiver<()>,
    resume: oneshot::Sender<()>,
}

impl Pause {
    /// Resolves once an owner is paused at the point. Never resolves if none reaches it
    /// (the drain ended first): race it against the drain, then
    /// [`FaultyStore::disarm_pause`](super::FaultyStore::disarm_pause).
    pub async fn reached(&mut self) {
        if (&mut self.reached).await.is_err() {
            // Disarmed without being reached: stay pending, like an unreached pause.
            std::future::pending::<()>().await;
        }
    }

    /// Lets the paused owner go on.
    pub fn resume(self) {
        let _ = self.resume.send(());
    }
}

/// The armed side, inside the store.
#[derive(Debug)]
pub(super) struct Armed {
    address: Address,
    point: PausePoint,
    /// Matching calls to let through before pausing.
    skip: u32,
    reached: oneshot::Sender<()>,
    resume: oneshot::Receiver<()>,
}

/// At most one armed pause.
#[derive(Debug, Default)]
pub(super) struct Pauses(Mutex<Option<Armed>>);

impl Pauses {
    pub(super) fn arm(&self, address: Address, point: PausePoint, skip: u32) -> Pause {
        let (reached_tx, reached_rx) = oneshot::channel();
        let (resume_tx, resume_rx) = oneshot::channel();
        *self.lock() = Some(Armed {
            address,
            point,
            skip,
            reached: reached_tx,
            resume: resume_rx,
        });
        Pause {
            reached: reached_rx,
            resume: resume_tx,
        }
    }

    /// Whether the armed pause is for `address`.
    pub(super) fn armed_for(&self, address: &Address) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|armed| armed.address == *address)
    }

    pub(super) fn disarm(&self) {
        self.lock().take();
    }

    /// Pauses here if the armed pause is for `address` at `point`.
    pub(super) async fn at(&self, address: &Address, point: PausePoint) {
        let armed = {
            let mut slot = self.lock();
            match slot.as_mut() {
                Some(armed) if armed.address == *address && armed.point == point => {
                    if armed.skip > 0 {
                        armed.skip -= 1;
                        None
                    } else {
                        slot.take()
                    }
                }
                _ => None,
            }
        };
        if let Some(armed) = armed {
            let _ = armed.reached.send(());
            // A dropped `Pause` lets the owner go on.
            let _ = armed.resume.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Armed>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
