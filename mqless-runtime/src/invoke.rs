//! Invokers wake an actor type's handler for one actor. A nudge is only a hint: the
//! mailbox in the store is the source of truth, so a lost or duplicated nudge delays or
//! repeats a drain but never loses or double-applies a message.

use std::sync::{Mutex, PoisonError};

use crate::error::{Error, InvokeError};
use crate::id::{ActorType, Address, MessageId};
use crate::BoxFuture;

/// Wakes the host of an actor: its Lambda function, or a drain task in this process.
pub trait Invoker: Send + Sync + 'static {
    /// Asks the host of `address.actor_type()` to drain `address`'s mailbox.
    fn nudge<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<(), InvokeError>>;

    /// Wakes the host for an ask of message `message`. An invoker that can wait for
    /// the drain (a synchronous Lambda invoke) returns the encoded reply when that
    /// invocation produced it, saving the asker a read; the default nudges and returns
    /// `None`, and the asker reads the reply from the store.
    fn wake_for_reply<'a>(
        &'a self,
        address: &'a Address,
        message: MessageId,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, InvokeError>> {
        let _ = message;
        Box::pin(async move { self.nudge(address).await.map(|()| None) })
    }

    /// Arms a wake-up of `address` at `at_millis` (since the Unix epoch), for a
    /// scheduled message. The embedded runtime's invoker keeps a timer; the default
    /// arms nothing, and the sweep (`Actors::sweep`, the deployed sweeper) wakes actors
    /// whose scheduled messages are due, so delivery waits at most one sweep period.
    fn nudge_at<'a>(
        &'a self,
        address: &'a Address,
        at_millis: u64,
    ) -> BoxFuture<'a, Result<(), InvokeError>> {
        let _ = (address, at_millis);
        Box::pin(async { Ok(()) })
    }

    /// Whether this invoker can wake actors of `actor_type` at all, checked when a
    /// handler addresses one, so a send to a type nobody runs fails at once instead of
    /// waiting in a mailbox forever. The default says yes.
    ///
    /// # Errors
    /// [`Error::NoHost`] saying how to make the type runnable.
    fn can_wake(&self, actor_type: &ActorType) -> Result<(), Error> {
        let _ = actor_type;
        Ok(())
    }
}

/// An invoker that wakes nobody and remembers what it was asked, for tests that drive
/// drains by hand (see [`crate::embedded::EmbeddedBuilder::manual_drains`]).
#[derive(Debug, Default)]
pub struct RecordingInvoker {
    nudges: Mutex<Vec<Address>>,
}

impl RecordingInvoker {
    /// An invoker with no nudges yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The nudges received so far, oldest first, leaving none.
    pub fn take_nudges(&self) -> Vec<Address> {
        std::mem::take(&mut *self.nudges.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Invoker for RecordingInvoker {
    fn nudge<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<(), InvokeError>> {
        self.nudges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(address.clone());
        Box::pin(async { Ok(()) })
    }
}
