//! Scheduled messages: a request sent with `send_after` / `send_at` is queued at once
//! under an id that carries its delivery time, so the mailbox keeps scheduled messages in
//! delivery order; drains stop before one that is not due, and its wake-up comes from a
//! timer (embedded) or the sweep (deployed). This module cancels them.

use std::time::Duration;

use crate::clock::millis;
use crate::error::Error;
use crate::id::{Address, MessageId};
use crate::store::Store;
use crate::wire::Envelope;

/// A scheduled message closer than this to its delivery time is not cancelled: a drain
/// may already be running it.
pub const CANCEL_MARGIN: Duration = Duration::from_secs(1);

/// Which scheduled messages to cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduled {
    /// The one with this id (what `send_after` returned).
    Id(MessageId),
    /// Every one sent with this name (`.named(..)`).
    Name(String),
}

/// Cancels the scheduled messages of `address` that `which` names: returns the ids of
/// those it removed, none when they already ran, were cancelled, or never were. Reads
/// the actor's mailbox (one `Query` per 1 MB on DynamoDB).
///
/// # Errors
/// [`Error::TooLateToCancel`] when one is due within [`CANCEL_MARGIN`] (nothing is
/// cancelled then), or a store failure.
pub(crate) async fn cancel(
    store: &dyn Store,
    address: &Address,
    which: &Scheduled,
    now: u64,
) -> Result<Vec<MessageId>, Error> {
    let limits = crate::codec::Limits::DEFAULT;
    let mut targets = Vec::new();
    for item in store.read_mailbox(address, usize::MAX).await? {
        let Ok(envelope) = Envelope::decode(&item.envelope, &limits) else {
            continue;
        };
        let Some(at) = envelope.at else {
            continue;
        };
        let named = match which {
            Scheduled::Id(id) => *id == item.id,
            Scheduled::Name(name) => envelope.name.as_deref() == Some(name.as_str()),
        };
        if named {
            if at <= now.saturating_add(millis(CANCEL_MARGIN)) {
                return Err(Error::TooLateToCancel {
                    message_id: item.id,
                    due_in_millis: at.saturating_sub(now),
                });
            }
            targets.push(item.id);
        }
    }
    let mut cancelled = Vec::new();
    for id in targets {
        if store.cancel(address, id).await? {
            cancelled.push(id);
        }
    }
    Ok(cancelled)
}
