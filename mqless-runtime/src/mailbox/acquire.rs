//! Taking an actor's lease, or knocking on the record of the owner that holds it; and
//! ending a lease without a commit.

use super::ActorHost;
use crate::actor::Actor;
use crate::clock::millis;
use crate::error::Error;
use crate::id::Address;
use crate::store::{Acquired, MailboxItem, StateRecord};

/// How many times a wake-up that found the lease held acquires again after its knock
/// found the record moved (the owner committed since the read).
const KNOCK_RACES: usize = 3;

/// A fresh owner token: random per acquire, so no two owners share one.
fn owner_token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // `RandomState` is seeded from the OS once per process and varied per instance.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

impl<A: Actor> ActorHost<A> {
    /// Ends the lease of `epoch` without a commit: frees it (one write of the lease
    /// item), and leaves the record's mark as the owner's work needs. `hand_off`: the
    /// owner stops at its deadline with work left, so it marks the actor due
    /// now and the sweep resumes it if nothing else does. Else the mark it found
    /// (`found`) stood for work it has done, and goes, unless somebody armed it since.
    pub(super) async fn end_lease(
        &self,
        address: &Address,
        epoch: u64,
        found: Option<u64>,
        hand_off: bool,
    ) -> Result<(), Error> {
        if hand_off {
            self.store.arm(address, self.clock.now_millis()).await?;
            self.store.release(address, epoch).await?;
        } else {
            self.store.release(address, epoch).await?;
            if let Some(at) = found {
                self.store.unmark(address, at).await?;
            }
        }
        Ok(())
    }

    /// Takes the lease of `address` with the mailbox's first batch (and one more
    /// message), or (`None`) knocks on the record of the owner that holds it, so that
    /// it looks at the mailbox again after its commit.
    pub(super) async fn take_lease(
        &self,
        address: &Address,
    ) -> Result<Option<(StateRecord, Vec<MailboxItem>)>, Error> {
        let owner = owner_token();
        let limit = self.config.batch_size.saturating_add(1);
        for _ in 0..KNOCK_RACES {
            let now = self.clock.now_millis();
            let until = now + millis(self.config.lease);
            let acquired = self
                .store
                .acquire_and_read(address, now, until, owner, limit)
                .await;
            match acquired {
                Ok((Acquired::Taken(record), read)) => return Ok(Some((record, read))),
                Ok((
                    Acquired::Held {
                        lease_expires_at,
                        mark,
                        version,
                        knocked,
                    },
                    _,
                )) => {
                    let at = if lease_expires_at > now {
                        lease_expires_at
                    } else {
                        now + millis(self.config.lease)
                    };
                    // Somebody knocked since the owner's last commit, and the sweep is
                    // armed for its lease's end: the owner looks again, or the sweep does.
                    if knocked && mark.is_some_and(|mark| mark <= at) {
                        return Ok(None);
                    }
                    // `false`: the owner committed since the read (perhaps releasing).
                    if self.store.knock(address, version, mark, at).await? {
                        return Ok(None);
                    }
                }
                Err(error) => {
                    // The acquire may have landed with its answer lost: give the lease
                    // back, or the next owner counts this as a stall (and three in a row
                    // dead-letter a healthy message). If this fails too, it expires.
                    let _ = self.store.abandon(address, owner).await;
                    return Err(error.into());
                }
            }
        }
        // The owner committed under each of our knocks: it goes on batch after batch,
        // each reading the mailbox after the commit before it, so it likely sees our
        // message; but the last of those commits may have released. Rare: let the sweep
        // look at once.
        self.store.arm(address, self.clock.now_millis()).await?;
        Ok(None)
    }
}
