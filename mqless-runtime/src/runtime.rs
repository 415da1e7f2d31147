//! [`Actors`]: where actors run, from a caller's point of view. Code written against
//! the trait runs on the embedded runtime and on Lambda alike.

use std::future::Future;

use crate::actor::Actor;
use crate::error::Error;
use crate::id::MessageId;
use crate::recovery::{DeadLetters, Quarantine, Quarantined, SweepReport};
use crate::schedule::{ReminderInfo, Scheduled};

/// Where actors run, from a caller's point of view: the [`crate::Embedded`] runtime, or
/// Lambda functions over DynamoDB (`aws::Remote`). Code written against this trait runs
/// on both.
///
/// ```
/// use mqless_runtime::{Actor, Actors, Error};
///
/// /// Works on every runtime: sends, waits until everything sent is processed, reads.
/// async fn settle_then_read<A: Actor>(actors: &impl Actors, id: &str) -> Result<Option<A>, Error> {
///     actors.settle().await?;
///     actors.state::<A>(id).await
/// }
/// ```
pub trait Actors: Send + Sync + 'static {
    /// Publishes `event` to `topic`: every subscription whose pattern matches gets it
    /// once (see [`crate::events`]). `event` must serialize as an object (a struct or a
    /// map), whose fields patterns match. Returns the id of the publish message.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`], [`Error::InvalidEvent`], an oversized event
    /// ([`Error::Codec`]), or the store's failure.
    fn publish<E: serde::Serialize + Sync + ?Sized>(
        &self,
        topic: &str,
        event: &E,
    ) -> impl Future<Output = Result<MessageId, Error>> + Send {
        let sent = (|| {
            let limits = crate::codec::Limits::DEFAULT;
            let message =
                crate::events::TopicMessage::publish(crate::events::encode_event(event, &limits)?);
            let topic = crate::events::Topic::new(topic)?;
            let client = self.client::<crate::topics::TopicActor>(topic.as_str())?;
            Ok::<_, Error>((client, message))
        })();
        async move {
            let (client, message) = sent?;
            crate::actor::ActorClient::core(&client)
                .request::<_, (), String>(&message)
                .send()
                .await
        }
    }

    /// A client of actor `id` of type `A`.
    ///
    /// # Errors
    /// An invalid id, or an actor type this system cannot run.
    fn client<A: Actor>(&self, id: impl Into<String>) -> Result<A::Client, Error>;

    /// The committed state of actor `id`, read without sending it a message (so it does
    /// not include messages still queued); `None` before its first commit.
    ///
    /// # Errors
    /// An invalid id, a store failure, or a state that does not decode as `A`.
    fn state<A: Actor>(
        &self,
        id: impl Into<String> + Send,
    ) -> impl Future<Output = Result<Option<A>, Error>> + Send;

    /// The dead letters of actor `id` of type `A`: list, inspect, redrive, discard.
    ///
    /// # Errors
    /// An invalid id, or an actor type this system cannot run.
    fn dead_letters<A: Actor>(&self, id: impl Into<String>) -> Result<DeadLetters, Error>;

    /// The quarantine of actor `id` of type `A`: why drains leave it alone, and the
    /// ways to lift it (see [`Quarantine`]).
    ///
    /// # Errors
    /// An invalid id, or an actor type this system cannot run.
    fn quarantine<A: Actor>(&self, id: impl Into<String>) -> Result<Quarantine<A>, Error>;

    /// Every quarantined actor of type `A`, in id order. On DynamoDB this reads the whole
    /// table (a `Scan`), like [`Actors::sweep`].
    ///
    /// # Errors
    /// A store failure.
    fn quarantined<A: Actor>(&self)
        -> impl Future<Output = Result<Vec<Quarantined>, Error>> + Send;

    /// Cancels scheduled messages of actor `id` (sent with `send_after` / `send_at`) that
    /// have not run: by id, or every one with a name. Returns the ids cancelled (none
    /// when they already ran or were cancelled).
    ///
    /// # Errors
    /// [`Error::TooLateToCancel`] when one is due within
    /// [`CANCEL_MARGIN`](crate::schedule::CANCEL_MARGIN) (a drain may be running it), an
    /// invalid id, or a store failure.
    fn cancel_scheduled<A: Actor>(
        &self,
        id: impl Into<String> + Send,
        which: Scheduled,
    ) -> impl Future<Output = Result<Vec<MessageId>, Error>> + Send;

    /// The live reminders of actor `id` (see `Request::remind`), with their next fires.
    ///
    /// # Errors
    /// An invalid id, or a store failure.
    fn reminders<A: Actor>(
        &self,
        id: impl Into<String> + Send,
    ) -> impl Future<Output = Result<Vec<ReminderInfo>, Error>> + Send;

    /// Ends reminder `name` of actor `id` by cancelling its queued fire: `false` when it
    /// has none (no such reminder, or it ended). Like
    /// [`Actors::cancel_scheduled`], refused within a second of the fire.
    ///
    /// # Errors
    /// As [`Actors::cancel_scheduled`].
    fn cancel_reminder<A: Actor>(
        &self,
        id: impl Into<String> + Send,
        name: &str,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let which = Scheduled::Name(name.to_owned());
        async move { Ok(!self.cancel_scheduled::<A>(id, which).await?.is_empty()) }
    }

    /// Wakes every actor the due index holds: scheduled messages that came due, and
    /// actors whose wake-up failed (see [`crate::recovery::sweep`]). Its cost follows
    /// what is due, not what is stored. Run it periodically (the deployed sweeper runs
    /// it every minute).
    ///
    /// # Errors
    /// A store failure while reading the index.
    fn sweep(&self) -> impl Future<Output = Result<SweepReport, Error>> + Send;

    /// Wakes every actor with a message due, found by reading the whole store: the few
    /// whose wake-up was lost where nobody saw it fail (see [`crate::recovery::audit`]).
    /// On DynamoDB a full `Scan`: run it rarely (the deployed sweeper runs it hourly).
    ///
    /// # Errors
    /// A store failure while listing the actors.
    fn audit(&self) -> impl Future<Output = Result<SweepReport, Error>> + Send;

    /// Resolves once every message sent so far has been processed, including the
    /// messages actors sent each other meanwhile: for tests, scripts and shutdown.
    ///
    /// The embedded runtime waits for its drains, which covers every actor. On Lambda,
    /// `aws::Remote` polls the mailboxes of the actors it sent to (one strongly consistent
    /// read each per poll, so not for a hot path; of the first message's key and due time
    /// only, [`Store::mailbox_head`](crate::store::Store::mailbox_head), which a client
    /// policy of key layout v2 allows) until they are all empty, re-waking
    /// them now and then in case a wake-up was lost; messages actors sent to actors this
    /// `Remote` never addressed are not waited for. It gives up after
    /// `aws::Remote::settle_timeout` with [`Error::NotSettled`] naming the actors that
    /// still have messages.
    ///
    /// # Errors
    /// [`Error::NotSettled`], or a store failure while looking.
    fn settle(&self) -> impl Future<Output = Result<(), Error>> + Send;
}
