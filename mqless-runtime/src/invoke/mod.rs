//! Invokers wake an actor type's handler for one actor. A nudge is only a hint: the
//! mailbox in the store is the source of truth, so a lost or duplicated nudge delays or
//! repeats a drain but never loses or double-applies a message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use tokio::sync::watch;

use crate::error::{Error, InvokeError};
use crate::id::{ActorId, ActorType, Address, MessageId};
use crate::store::BoxFuture;

#[cfg(feature = "aws")]
pub mod lambda;

/// Wakes the handler of an actor.
pub trait Invoker: Send + Sync + 'static {
    /// Asks the handler of `address.actor_type()` to drain `address`'s mailbox.
    fn nudge<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<(), InvokeError>>;

    /// Wakes the handler for an ask of message `message`. An invoker that can wait for
    /// the handler (a synchronous Lambda invoke) returns the encoded reply when that
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
}

/// Something that drains one actor's mailbox: an [`crate::mailbox::ActorHost`] with its
/// type erased.
pub trait Drain: Send + Sync + 'static {
    /// Drains the mailbox of actor `id` until it is empty, or returns when another owner
    /// holds it.
    fn drain(
        self: Arc<Self>,
        id: ActorId,
    ) -> BoxFuture<'static, Result<crate::mailbox::DrainReport, Error>>;
}

/// The embedded invoker: runs drains as tokio tasks in this process.
///
/// Nudges for an actor whose drain is already running are coalesced into one more run
/// after it, so a burst of sends costs a few drains rather than one task per message.
/// The lease protocol does not depend on this: hosts driven directly may still race.
#[derive(Default)]
pub struct InProcessInvoker {
    handlers: RwLock<HashMap<ActorType, Weak<dyn Drain>>>,
    /// Actors with a drain task, and whether another run was asked for meanwhile.
    running: Mutex<HashMap<Address, bool>>,
    /// Number of drain tasks alive, watched by [`InProcessInvoker::idle`].
    active: watch::Sender<usize>,
}

impl std::fmt::Debug for InProcessInvoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessInvoker")
            .field("active", &*self.active.borrow())
            .finish_non_exhaustive()
    }
}

impl InProcessInvoker {
    /// An invoker with no handlers.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes nudges for `actor_type` to `handler`. The invoker keeps a weak reference:
    /// the owner (the embedded runtime) keeps the handler alive.
    pub fn register(&self, actor_type: ActorType, handler: Weak<dyn Drain>) {
        self.handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(actor_type, handler);
    }

    /// Resolves once no drain task is running (all nudged work is done).
    pub async fn idle(&self) {
        let mut active = self.active.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = active.wait_for(|n| *n == 0).await;
    }

    fn handler(&self, actor_type: &ActorType) -> Option<Arc<dyn Drain>> {
        self.handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(actor_type)
            .and_then(Weak::upgrade)
    }
}

impl Invoker for Arc<InProcessInvoker> {
    fn nudge<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<(), InvokeError>> {
        let result = (|| {
            let handler = self.handler(address.actor_type()).ok_or_else(|| InvokeError {
                actor_type: address.actor_type().to_string(),
                message: "no handler is registered for this actor type in this runtime (or the runtime was dropped); register it first".into(),
            })?;
            let runtime = tokio::runtime::Handle::try_current().map_err(|_| InvokeError {
                actor_type: address.actor_type().to_string(),
                message: "the embedded runtime needs a tokio runtime; call it from inside `#[tokio::main]` or a runtime's `block_on`".into(),
            })?;
            {
                let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(again) = running.get_mut(address) {
                    *again = true;
                    return Ok(());
                }
                running.insert(address.clone(), false);
            }
            self.active.send_modify(|n| *n += 1);
            let invoker = Arc::clone(self);
            let address = address.clone();
            runtime.spawn(async move {
                loop {
                    if let Err(error) = Arc::clone(&handler).drain(address.id().clone()).await {
                        // The messages stay queued; the next nudge retries them.
                        eprintln!("mqless: drain of {address} failed: {error}");
                    }
                    let mut running = invoker
                        .running
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    match running.get_mut(&address) {
                        Some(again) if *again => *again = false,
                        _ => {
                            running.remove(&address);
                            break;
                        }
                    }
                }
                invoker.active.send_modify(|n| *n -= 1);
            });
            Ok(())
        })();
        Box::pin(async move { result })
    }
}

/// An invoker that wakes nobody and remembers what it was asked, for tests that drive
/// drains by hand (see [`crate::EmbeddedBuilder::manual_drains`]).
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
