//! The due index: what a sweep reads to find the actors that need a wake-up, so that its
//! cost follows what is due, not what is stored.
//!
//! Two kinds of entry, both on items the protocol writes anyway:
//!
//! - every **scheduled message** (an envelope with a delivery time: a delayed send, a
//!   reminder fire, an ask's timeout) is indexed at its time while it is queued; its
//!   entry goes with it when the drain deletes it, so it can be neither lost nor left
//!   behind;
//! - a **marked message**: an immediate message whose sender's wake-up failed (a
//!   client's or a handler's nudge) is marked due now by that sender, on the item it
//!   wrote, so a sender never writes the recipient's record; the entry goes with the
//!   message as a scheduled one's does;
//! - an actor's `#state` record carries a **mark** when the actor needs a wake-up that
//!   only its own drains know of: an owner that ended at its deadline (a hand-off), a
//!   drain that failed, a nudge that found the lease held (if its owner crashed, the
//!   lease's expiry is when someone must look). A lease's release clears the mark, since
//!   the owner then reads the mailbox once more.
//!
//! Entries are ordered by an [`entry key`](entry_key): the due time (zero-padded
//! milliseconds), then the address and the sort key, so keys compare as text in time
//! order and are unique. On DynamoDB the index is a sparse global secondary index whose
//! partition key is one of [`SHARDS`] shards (a hash of the address, so one moment's
//! entries never make a hot partition) and whose sort key is the entry key; immediate
//! messages, the common case, are not in it and cost it nothing.
//!
//! Messages queued for an actor whose wake-up was lost without anyone seeing it fail
//! (an accepted invoke that Lambda later drops, a client that crashes between its write
//! and its nudge) are not in the index: the audit (`recovery::audit`, a full scan run
//! rarely) finds those.

use crate::codec::Limits;
use crate::id::{Address, MessageId};
use crate::wire::Envelope;

/// How many shards the index is split into. Part of the table's format: changing it
/// would hide the entries of the shards that no longer exist.
pub const SHARDS: u16 = 16;

/// Width of the zero-padded due time at the head of an entry key (milliseconds since the
/// Unix epoch fit in 15 digits for thirty thousand years).
const TIME_DIGITS: usize = 15;

/// The sort key of the `#state` record, as it appears in its mark's entry key.
pub(crate) const STATE_SORT_KEY: &str = "#state";

/// One entry of the due index, as a sweep reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueEntry {
    /// The entry's key: its due time, address and sort key (see [`entry_key`]).
    pub key: String,
    /// The actor to wake.
    pub address: Address,
}

impl DueEntry {
    /// When the entry is due (milliseconds since the Unix epoch).
    #[must_use]
    pub fn due(&self) -> u64 {
        due_of(&self.key).unwrap_or(0)
    }
}

/// The shard of `address`'s entries: FNV-1a of the address, so every process agrees.
#[must_use]
pub fn shard_of(address: &Address) -> u16 {
    let mut hash: u32 = 0x811c_9dc5;
    let parts = [address.actor_type().as_str(), "/", address.id().as_str()];
    for byte in parts.iter().flat_map(|part| part.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    u16::try_from(hash % u32::from(SHARDS)).unwrap_or(0)
}

/// The key of an entry due at `due` for the item of `address` with sort key `sort_key`.
#[must_use]
pub fn entry_key(due: u64, address: &Address, sort_key: &str) -> String {
    format!("{due:0TIME_DIGITS$}|{address}|{sort_key}")
}

/// The smallest key due after `now`: every entry due at or before `now` sorts below it.
#[must_use]
pub fn key_bound(now: u64) -> String {
    format!("{:0TIME_DIGITS$}", now.saturating_add(1))
}

/// The due time an entry key starts with, or `None` if it is not one of ours.
#[must_use]
pub fn due_of(key: &str) -> Option<u64> {
    key.get(..TIME_DIGITS)?.parse().ok()
}

/// When queued message `id` with `envelope` is due, if it is scheduled: the time its envelope names,
/// or its id's time if earlier (a drain leaves a message only while both are ahead, see
/// [`super::waits`]). `None`
/// for an immediate message, and for bytes that do not decode (the drain deals with
/// those; they need no entry).
#[must_use]
pub fn scheduled_at(id: MessageId, envelope: &[u8]) -> Option<u64> {
    let envelope = Envelope::decode(envelope, &Limits::DEFAULT).ok()?;
    envelope.at.map(|at| at.min(id.timestamp_millis()))
}

/// Marks message `id`, just queued for `address`, for the sweep after the wake-up of
/// `address` failed with `error`: the message is durable, and the sweep wakes its actor
/// within one period. The mark is on the message item, which the sender wrote, not on
/// the recipient's record (see [`Store::mark_message`](super::Store::mark_message)). If
/// the mark fails too, the audit finds it.
pub(crate) async fn mark_unwoken(
    store: &dyn super::Store,
    address: &Address,
    id: MessageId,
    now: u64,
    error: &crate::error::InvokeError,
) {
    match store.mark_message(address, id, now).await {
        Ok(()) => {
            tracing::warn!(actor = %address, message = %id, %error, "waking the actor failed; the sweep wakes it");
        }
        Err(mark_error) => {
            tracing::warn!(actor = %address, message = %id, %error, %mark_error, "waking the actor failed, and so did marking its message for the sweep; its next message or the audit wakes it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_in_time_order_and_stay_below_the_bound() {
        let a = Address::parse("Counter/a").unwrap();
        let early = entry_key(999, &a, "m#X");
        let late = entry_key(1_000, &a, "m#X");
        assert!(early < late);
        assert!(late < key_bound(1_000));
        assert!(key_bound(999) <= late);
        assert_eq!(due_of(&late), Some(1_000));
        assert!(shard_of(&a) < SHARDS);
    }
}
