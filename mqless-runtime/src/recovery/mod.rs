//! Operator tools, the same on every store: an actor's dead letters (list, inspect,
//! redrive, discard), quarantined actors (list, inspect, repair or reset, retry), and
//! the sweep that wakes every actor with queued messages, which recovers messages whose
//! nudge was lost.
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
//! println!("woke {} actors with queued messages", report.nudged);
//! # Ok(()) }
//! ```

mod dead_letters;
mod operator;
mod quarantine;

pub use dead_letters::DeadLetters;
pub use operator::{ActorReport, Operator, Queued, COUNT_QUEUED_UP_TO};
pub use quarantine::{Quarantine, Quarantined};

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

/// What a sweep found and did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Actors that had queued messages.
    pub pending: Vec<Address>,
    /// How many of them were woken.
    pub nudged: usize,
    /// The ones whose wake-up failed, and why; the next sweep tries them again.
    pub failed: Vec<(Address, InvokeError)>,
}

/// The committed state of actor `id` of type `A` in `store`, without the lease.
pub(crate) async fn committed_state<A: Actor>(
    store: &dyn Store,
    id: impl Into<String>,
    limits: &Limits,
    now: u64,
) -> Result<Option<A>, Error> {
    let address = address_of::<A>(id)?;
    let record = store.load_state(&address).await?;
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

/// Wakes every actor in `store` with messages due at `now` (milliseconds since the Unix
/// epoch) through `invoker`: messages whose nudge was lost, and scheduled messages that
/// came due (on AWS the sweep is what delivers those).
///
/// Nudges are hints: a lost one (an `Event` invoke dropped after Lambda's retries, a
/// handler that crashed before nudging the recipients of its sends) leaves committed
/// messages queued but unprocessed until the actor's next message. A periodic sweep
/// bounds that wait. A woken actor whose lease is still held by a crashed owner finds
/// it busy; the next sweep after the lease expires drains it.
///
/// # Errors
/// A store failure while listing the actors.
pub async fn sweep(
    store: &dyn Store,
    invoker: &dyn Invoker,
    now: u64,
) -> Result<SweepReport, Error> {
    let pending = store.pending_actors(now).await?;
    let mut report = SweepReport::default();
    for address in &pending {
        match invoker.nudge(address).await {
            Ok(()) => report.nudged += 1,
            Err(error) => report.failed.push((address.clone(), error)),
        }
    }
    report.pending = pending;
    Ok(report)
}
