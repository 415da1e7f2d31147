//! An actor's dead letters: list, inspect, redrive, discard.

use std::sync::Arc;

use super::STORED;
use crate::actor::Actor;
use crate::clock::Clock;
use crate::codec;
use crate::error::{CodecError, Error};
use crate::id::{Address, MessageId};
use crate::invoke::Invoker;
use crate::store::{DeadLetter, Store};
use crate::wire::Envelope;

impl DeadLetter {
    /// The envelope the message was queued in: its body, whether the sender asked, its
    /// idempotency key. Fails for the messages that were dead-lettered because their
    /// envelope did not decode.
    ///
    /// # Errors
    /// A [`CodecError`] describing the broken bytes.
    pub fn envelope(&self) -> Result<Envelope, CodecError> {
        Envelope::decode(&self.envelope, &STORED)
    }

    /// The message, decoded as actor `A`'s message enum: `{Actor}Message`, with one
    /// variant per method named after it in `PascalCase` (`charge` is
    /// `Charge { order_id, .. }`), and `Debug` when every argument type has it.
    ///
    /// # Errors
    /// A [`CodecError`] when the envelope or the body does not decode as `A::Message`.
    pub fn message<A: Actor>(&self) -> Result<A::Message, CodecError> {
        let envelope = self.envelope()?;
        codec::decode(&envelope.body, "message", usize::MAX, STORED.max_depth)
    }
}

/// The dead letters of one actor. Get it from [`crate::Actors::dead_letters`].
///
/// **Order of a redriven message.** Redrive queues the message under a new id taken at
/// redrive time, so it runs as if sent then: after every message already queued, before
/// every message sent later. It does not regain its place among the messages its sender
/// sent after it (those already ran: the actor went on without it). [`redrive_all`]
/// keeps the dead letters' own order among themselves. The message keeps its
/// idempotency key, so if the sender already resent it under that key, the redriven
/// copy is skipped as a duplicate rather than applied twice.
///
/// [`redrive_all`]: DeadLetters::redrive_all
pub struct DeadLetters {
    address: Address,
    store: Arc<dyn Store>,
    invoker: Arc<dyn Invoker>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl DeadLetters {
    pub(crate) fn new(
        address: Address,
        store: Arc<dyn Store>,
        invoker: Arc<dyn Invoker>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            address,
            store,
            invoker,
            clock,
        }
    }

    /// The actor these dead letters belong to.
    #[must_use]
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Every dead letter, in the order the messages were first queued.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list(&self) -> Result<Vec<DeadLetter>, Error> {
        Ok(self.store.dead_letters(&self.address).await?)
    }

    /// Dead letter `id`, if there is one.
    ///
    /// # Errors
    /// A store failure.
    pub async fn get(&self, id: MessageId) -> Result<Option<DeadLetter>, Error> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .find(|letter| letter.id == id))
    }

    /// Puts dead letter `id` back at the end of the mailbox and wakes the actor. Returns
    /// the message's new id. See the type's docs for the order it gets.
    ///
    /// # Errors
    /// [`Error::DeadLetterNotFound`] when there is no such dead letter (it may have been
    /// redriven or discarded already; redrive is atomic, so it is never queued twice), or
    /// a store failure (retrying is safe for the same reason).
    pub async fn redrive(&self, id: MessageId) -> Result<MessageId, Error> {
        let new_id = self.requeue(id, None).await?;
        self.wake().await?;
        Ok(new_id)
    }

    /// Redrives every dead letter, keeping their order among themselves, and wakes the
    /// actor once. Returns the new ids, in that order.
    ///
    /// # Errors
    /// A store failure; the letters redriven before it stay redriven.
    pub async fn redrive_all(&self) -> Result<Vec<MessageId>, Error> {
        let mut new_ids = Vec::new();
        let mut floor = None;
        for letter in self.list().await? {
            match self.requeue(letter.id, floor).await {
                Ok(new_id) => {
                    floor = Some(new_id);
                    new_ids.push(new_id);
                }
                // Redriven or discarded meanwhile by someone else: nothing to do.
                Err(Error::DeadLetterNotFound { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        if !new_ids.is_empty() {
            self.wake().await?;
        }
        Ok(new_ids)
    }

    /// Deletes dead letter `id` for good.
    ///
    /// # Errors
    /// [`Error::DeadLetterNotFound`] when there is no such dead letter, or a store failure.
    pub async fn discard(&self, id: MessageId) -> Result<(), Error> {
        if self.store.discard_dead_letter(&self.address, id).await? {
            Ok(())
        } else {
            Err(self.not_found(id))
        }
    }

    async fn requeue(&self, id: MessageId, floor: Option<MessageId>) -> Result<MessageId, Error> {
        let new_id = MessageId::generate(self.clock.now_millis(), floor);
        if self.store.redrive(&self.address, id, new_id).await? {
            Ok(new_id)
        } else {
            Err(self.not_found(id))
        }
    }

    async fn wake(&self) -> Result<(), Error> {
        Ok(self.invoker.nudge(&self.address).await?)
    }

    fn not_found(&self, id: MessageId) -> Error {
        Error::DeadLetterNotFound {
            address: self.address.to_string(),
            id,
        }
    }
}
