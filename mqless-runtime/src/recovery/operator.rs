//! [`Operator`]: every actor of a deployment by address, for tools that do not know its
//! Rust types (the `mqless` command-line tool): list, inspect, peek at mailboxes, manage
//! dead letters, reset or delete actors, sweep.

use std::sync::Arc;

use super::{DeadLetters, SweepReport};
use crate::clock::Clock;
use crate::error::Error;
use crate::id::{ActorType, Address, MessageId};
use crate::invoke::Invoker;
use crate::store::{QuarantineRecord, Retired, Store};
use crate::wire::Envelope;

/// How many queued messages [`Operator::inspect`] counts before it says "at least".
pub const COUNT_QUEUED_UP_TO: usize = 1000;

/// Operator access to every actor in a store, by address.
///
/// ```
/// # async fn demo() -> Result<(), mqless_runtime::Error> {
/// use mqless_runtime::embedded::Embedded;
/// use mqless_runtime::id::ActorType;
/// let operator = Embedded::new().operator();
/// let counters = operator.list(&ActorType::new("Counter")?, None, 100).await?;
/// for address in counters {
///     let report = operator.inspect(&address).await?;
///     println!("{address}: version {}, {} queued", report.version, report.queued);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Operator {
    store: Arc<dyn Store>,
    invoker: Arc<dyn Invoker>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator").finish_non_exhaustive()
    }
}

/// What [`Operator::inspect`] found about one actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorReport {
    /// The actor.
    pub address: Address,
    /// Its committed state (MessagePack), `None` before its first commit, after a reset
    /// or once expired: the type's default.
    pub state: Option<Vec<u8>>,
    /// When its state expires without another message (its type's idle time to live), in
    /// ms since the Unix epoch; past it, the state already reads as the default.
    pub expires_at: Option<u64>,
    /// Commits so far (0: never committed).
    pub version: u64,
    /// When the current lease expires (ms since the Unix epoch), if a drain holds it.
    pub lease_expires_at: Option<u64>,
    /// Why and since when the actor is quarantined, if it is.
    pub quarantine: Option<QuarantineRecord>,
    /// Damage found in its record (attributes written past MQLess), if any.
    pub damage: Option<String>,
    /// Queued messages, counted up to [`COUNT_QUEUED_UP_TO`].
    pub queued: usize,
    /// Dead letters.
    pub dead_letters: usize,
    /// The error of its most recent dead letter.
    pub last_error: Option<String>,
}

impl ActorReport {
    /// Whether the actor left any trace: state, queued messages or dead letters.
    #[must_use]
    pub fn exists(&self) -> bool {
        self.version > 0 || self.queued > 0 || self.dead_letters > 0 || self.quarantine.is_some()
    }
}

/// A queued message, as [`Operator::mailbox`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Its id: the mailbox runs messages in id order.
    pub id: MessageId,
    /// Its envelope, or why it does not decode (it will be dead-lettered when it runs).
    pub envelope: Result<Envelope, String>,
}

impl Operator {
    /// Operator access to `store`, waking actors through `invoker`, with time from
    /// `clock`. Runtimes hand one out: `Embedded::operator`, `Remote::operator`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, invoker: Arc<dyn Invoker>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            invoker,
            clock,
        }
    }

    /// Up to `limit` actors of `actor_type` that committed at least once, in address
    /// order, after `after` (the last address of the previous page). An actor is listed
    /// from its first commit until it is deleted. On DynamoDB it reads the table's
    /// `actors` index (eventually consistent: an actor created a moment ago may be
    /// missing), never a scan.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list(
        &self,
        actor_type: &ActorType,
        after: Option<&Address>,
        limit: usize,
    ) -> Result<Vec<Address>, Error> {
        Ok(self.store.list_actors(actor_type, after, limit).await?)
    }

    /// Everything about one actor: its state record, how many messages wait, its dead
    /// letters. Reads, never writes.
    ///
    /// # Errors
    /// A store failure.
    pub async fn inspect(&self, address: &Address) -> Result<ActorReport, Error> {
        let record = self.store.load_state(address).await?.unwrap_or_default();
        let now = self.clock.now_millis();
        let queued = self
            .store
            .read_mailbox(address, COUNT_QUEUED_UP_TO)
            .await?
            .len();
        let letters = self.store.dead_letters(address).await?;
        Ok(ActorReport {
            address: address.clone(),
            state: record.live_state(now).map(<[u8]>::to_vec),
            expires_at: record.expires_at,
            version: record.version,
            lease_expires_at: (record.lease_expires_at > now).then_some(record.lease_expires_at),
            quarantine: record.quarantine,
            damage: record.damage,
            queued,
            dead_letters: letters.len(),
            last_error: letters
                .iter()
                .max_by_key(|letter| letter.dead_at)
                .map(|letter| letter.error.clone()),
        })
    }

    /// The first `limit` queued messages of `address`, in the order it runs them.
    ///
    /// # Errors
    /// A store failure.
    pub async fn mailbox(&self, address: &Address, limit: usize) -> Result<Vec<Queued>, Error> {
        let items = self.store.read_mailbox(address, limit).await?;
        Ok(items
            .into_iter()
            .map(|item| Queued {
                id: item.id,
                envelope: Envelope::decode(&item.envelope, &super::STORED)
                    .map_err(|error| error.to_string()),
            })
            .collect())
    }

    /// The dead letters of `address`: list, redrive, discard.
    #[must_use]
    pub fn dead_letters(&self, address: Address) -> DeadLetters {
        DeadLetters::new(
            address,
            Arc::clone(&self.store),
            Arc::clone(&self.invoker),
            Arc::clone(&self.clock),
        )
    }

    /// Resets the state of `address` to its type's default; its queued messages, dead
    /// letters and quarantine stay (lift a quarantine with `Actors::quarantine`).
    /// [`Retired::Busy`] while a drain holds the actor: try again.
    ///
    /// # Errors
    /// A store failure.
    pub async fn reset_state(&self, address: &Address) -> Result<Retired, Error> {
        Ok(self
            .store
            .reset_state(address, self.clock.now_millis())
            .await?)
    }

    /// Deletes `address`: its state, queued messages, replies and dead letters. A message
    /// sent to it afterwards starts a fresh actor with the default state.
    /// [`Retired::Busy`] while a drain holds the actor: try again.
    ///
    /// # Errors
    /// A store failure; what was deleted before it stays deleted, and deleting again
    /// finishes the job.
    pub async fn delete(&self, address: &Address) -> Result<Retired, Error> {
        Ok(self
            .store
            .delete_actor(address, self.clock.now_millis())
            .await?)
    }

    /// Wakes every actor with messages due now (see [`super::sweep`]).
    ///
    /// # Errors
    /// A store failure while listing the actors.
    pub async fn sweep(&self) -> Result<SweepReport, Error> {
        super::sweep(&*self.store, &*self.invoker, self.clock.now_millis()).await
    }

    /// Wakes every actor with a message due, found by reading the whole store (see
    /// [`super::audit`]).
    ///
    /// # Errors
    /// A store failure while listing the actors.
    pub async fn audit(&self) -> Result<SweepReport, Error> {
        super::audit(&*self.store, &*self.invoker, self.clock.now_millis()).await
    }
}
