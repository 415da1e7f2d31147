//! Step 5: a committed batch's follow-up writes. Its emissions are delivered first
//! (`delivery.rs`), then the store writes its replies and dead letters and deletes its
//! messages, and last the record's expiry when the commit left it to the cleanup. A
//! crash may cut it anywhere; the next owner repeats it from the record's bookkeeping,
//! so the record must outlive every cut cleanup.

use crate::actor::Actor;
use crate::clock::millis;
use crate::error::Error;
use crate::id::Address;
use crate::store::{Cleanup, KeyedBytes, RecordExpiry};

use super::bookkeeping::Bookkeeping;
use super::ActorHost;

impl<A: Actor> ActorHost<A> {
    /// Step 5: the committed batch's follow-up writes; `replies` replaces the batch's
    /// replies when some were delivered in process.
    pub(super) async fn cleanup(
        &self,
        address: &Address,
        batch: Committed<'_>,
        replies: Option<&[KeyedBytes]>,
    ) -> Result<(), Error> {
        let book = batch.book;
        if book.is_empty() {
            return Ok(());
        }
        // Emissions first: "no consumed message left" must imply "emissions delivered".
        let undeliverable = match self.deliver(address, &book.emissions).await {
            Ok(undeliverable) => undeliverable,
            Err(error) => {
                self.suspend_expiry(address, batch).await;
                return Err(error);
            }
        };
        let now = self.clock.now_millis();
        let cleanup = Cleanup {
            undeliverable: &undeliverable,
            dead_letters: &book.failures,
            delete: &book.consumed,
            replies: replies.unwrap_or(&book.replies),
            replies_expire_at: now + millis(self.config.reply_ttl),
            dead_letters_expire_at: A::IDLE_TTL.map(|ttl| now.saturating_add(millis(ttl))),
            now,
            expire_record: self.expiry_after_cleanup(batch, now),
        };
        Ok(self.store.cleanup(address, cleanup).await?)
    }

    /// The expiry a finished cleanup writes: a stopped actor's (now); an idle expiry that
    /// a wait for a channel suspended (the record has none though the type has an idle
    /// time to live and nothing is tracked: see [`Self::suspend_expiry`]); else none,
    /// the commit wrote it.
    fn expiry_after_cleanup(&self, batch: Committed<'_>, now: u64) -> Option<RecordExpiry> {
        let Committed {
            book,
            version,
            expires_at,
        } = batch;
        let at = if book.stopped {
            now
        } else if expires_at.is_none() && !book.tracks_anything() {
            now.saturating_add(millis(A::IDLE_TTL?))
        } else {
            return None;
        };
        Some(RecordExpiry {
            version,
            at: Some(at),
        })
    }

    /// A channel cannot take the batch's emissions for now, and the cleanup waits for
    /// it, perhaps for longer than the idle time to live: the record it is repeated from
    /// must not be deleted meanwhile (its messages would run again), so its expiry is
    /// suspended until a repeat finishes (which writes it again). Best effort: only a
    /// wait longer than the idle time to live needs it.
    async fn suspend_expiry(&self, address: &Address, batch: Committed<'_>) {
        if batch.expires_at.is_none() {
            return;
        }
        let now = self.clock.now_millis();
        let expiry = RecordExpiry {
            version: batch.version,
            at: None,
        };
        if let Err(error) = self
            .store
            .cleanup(address, Cleanup::expiry_only(expiry, now))
            .await
        {
            tracing::warn!(actor = %address, %error, "could not suspend the record's idle expiry while a channel is unavailable");
        }
    }
}

/// A committed batch, as its cleanup needs it.
#[derive(Clone, Copy)]
pub(super) struct Committed<'a> {
    /// Its bookkeeping.
    pub(super) book: &'a Bookkeeping,
    /// The version it committed.
    pub(super) version: u64,
    /// The record's expiry as it committed it (or as read, for a repeat).
    pub(super) expires_at: Option<u64>,
}
