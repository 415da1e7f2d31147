//! Operator tools, the same on every store: an actor's dead letters (list, inspect,
//! redrive, discard), quarantined actors (list, inspect, repair or reset, retry), the
//! sweep that wakes the actors the due index holds (scheduled messages that came due,
//! wake-ups that failed), and the audit that finds, by a full scan, messages whose
//! wake-up was lost unseen.
//!
//! Both are reached through [`crate::Actors`], so they work on the embedded runtime and
//! on Lambda over DynamoDB alike:
//!
//! ```
//! # #[derive(Default, serde::Serialize, serde::Deserialize)] struct Counter;
//! # async fn demo(actors: &impl mqless_runtime::Actors) -> Result<(), mqless_runtime::Error> {
//! // let letters = actors.dead_letters::<Counter>("visits")?;
//! // for letter in letters.list().await? {
//! //     println!("{}: {} after {} tries", letter.id, letter.error, letter.attempts);
//! // }
//! // letters.redrive_all().await?;
//! let report = actors.sweep().await?;
//! println!("woke {} actors with something due", report.nudged);
//! # Ok(()) }
//! ```

mod dead_letters;
mod operator;
mod quarantine;
mod sweep;

pub use dead_letters::DeadLetters;
pub use operator::{ActorReport, Operator, Queued, COUNT_QUEUED_UP_TO};
pub use quarantine::{Quarantine, Quarantined};
pub use sweep::{audit, sweep_with, SweepOptions};

use crate::actor::{address_of, Actor};
use crate::codec::{self, Limits};
use crate::error::{Error, InvokeError};
use crate::id::Address;
use crate::invoke::Invoker;
use crate::store::Store;

/// Limits for reading back what was already accepted once: any size the store held, the
/// default nesting.
pub(crate) const STORED: Limits = Limits {
    max_message_bytes: usize::MAX / 2,
    max_state_bytes: usize::MAX / 2,
    max_depth: Limits::DEFAULT.max_depth,
};

/// What a sweep (or an audit) found and did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Actors found due, in the order they were woken.
    pub pending: Vec<Address>,
    /// How many of them were woken.
    pub nudged: usize,
    /// The ones whose wake-up failed, and why; the next sweep tries them again.
    pub failed: Vec<(Address, InvokeError)>,
    /// Quarantined actors that had something due: listed, not woken.
    pub quarantined: Vec<Address>,
    /// Entries of the due index read (for an audit: actors found).
    pub entries: usize,
    /// `false` when the sweep reached its deadline: it saved where it stopped, and the
    /// next sweep continues from there.
    pub complete: bool,
}

impl SweepReport {
    /// Adds what a later sweep found and did, as one report of both.
    pub fn absorb(&mut self, later: SweepReport) {
        self.pending.extend(later.pending);
        self.nudged += later.nudged;
        self.failed.extend(later.failed);
        for address in later.quarantined {
            if !self.quarantined.contains(&address) {
                self.quarantined.push(address);
            }
        }
        self.entries += later.entries;
        self.complete = later.complete;
    }
}

/// The committed state of actor `id` of type `A` in `store`, without the lease.
pub(crate) async fn committed_state<A: Actor>(
    store: &dyn Store,
    id: impl Into<String>,
    limits: &Limits,
    now: u64,
) -> Result<Option<A>, Error> {
    let address = address_of::<A>(id)?;
    let record = store.load_committed_state(&address).await?;
    match record.as_ref().and_then(|r| r.live_state(now)) {
        Some(bytes) => Ok(Some(codec::decode(
            bytes,
            "actor state",
            usize::MAX,
            limits.max_depth,
        )?)),
        None => Ok(None),
    }
}

/// The quarantined actors of type `A` in `store`.
pub(crate) async fn quarantined_of<A: Actor>(store: &dyn Store) -> Result<Vec<Quarantined>, Error> {
    quarantine::quarantined(store, &crate::id::ActorType::new(A::TYPE_NAME)?).await
}

/// Wakes every actor that the due index holds at `now` (milliseconds since the Unix
/// epoch) through `invoker`, with no deadline: scheduled messages that came due, and
/// actors marked because a wake-up failed or a lease's owner may have crashed (see
/// [`sweep_with`]).
///
/// Nudges are hints: a lost one leaves committed messages queued but unprocessed until
/// the actor's next message. Whoever sees a wake-up fail marks the actor, and the
/// periodic sweep wakes it; [`audit`] finds the few lost where nobody saw.
///
/// # Errors
/// A store failure while reading the index.
pub async fn sweep(
    store: &dyn Store,
    invoker: &dyn Invoker,
    now: u64,
) -> Result<SweepReport, Error> {
    sweep_with(store, invoker, now, SweepOptions::default()).await
}
