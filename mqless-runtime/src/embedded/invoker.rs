//! The embedded invoker: drains run as tokio tasks in this process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use tokio::sync::watch;

use crate::actor::Actor;
use crate::clock::Clock;
use crate::error::{Error, InvokeError};
use crate::id::{ActorId, ActorType, Address};
use crate::invoke::Invoker;
use crate::mailbox::{ActorHost, DrainReport};
use crate::BoxFuture;

/// Something that drains one actor's mailbox: an [`ActorHost`] with its type erased.
pub(crate) trait Drain: Send + Sync + 'static {
    /// Drains the mailbox of actor `id` until it is empty, or returns when another owner
    /// holds it.
    fn drain(self: Arc<Self>, id: ActorId) -> BoxFuture<'static, Result<DrainReport, Error>>;
}

impl<A: Actor> Drain for ActorHost<A> {
    fn drain(self: Arc<Self>, id: ActorId) -> BoxFuture<'static, Result<DrainReport, Error>> {
        Box::pin(async move { ActorHost::drain(&self, &id).await })
    }
}

/// The embedded invoker: runs drains as tokio tasks in this process.
///
/// Nudges for an actor whose drain is already running are coalesced into one more run
/// after it, so a burst of sends costs a few drains rather than one task per message.
/// The lease protocol does not depend on this: hosts driven directly may still race.
pub(crate) struct InProcessInvoker {
    /// The runtime's clock, which scheduled messages' times are on.
    clock: Arc<dyn Clock>,
    hosts: RwLock<HashMap<ActorType, Weak<dyn Drain>>>,
    /// Actors with a drain task, and whether another run was asked for meanwhile.
    running: Mutex<HashMap<Address, bool>>,
    /// Number of drain tasks alive, watched by [`InProcessInvoker::settle`].
    active: watch::Sender<usize>,
    /// The runtime stopped taking work: nudges wake nothing, drain tasks end.
    closed: AtomicBool,
}

impl std::fmt::Debug for InProcessInvoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessInvoker")
            .field("active", &*self.active.borrow())
            .finish_non_exhaustive()
    }
}

impl InProcessInvoker {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            hosts: RwLock::default(),
            running: Mutex::default(),
            active: watch::Sender::default(),
            closed: AtomicBool::new(false),
        }
    }

    /// Stops taking work: later nudges wake nothing (the messages stay queued for the
    /// next runtime over the store), and drain tasks end after their current drain.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Routes nudges for `actor_type` to `host`. The invoker keeps a weak reference: the
    /// owner (the embedded runtime) keeps the host alive.
    pub(crate) fn register(&self, actor_type: ActorType, host: Weak<dyn Drain>) {
        self.hosts
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(actor_type, host);
    }

    /// Resolves once no drain task is running (all nudged work is done).
    pub(crate) async fn settle(&self) {
        let mut active = self.active.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = active.wait_for(|n| *n == 0).await;
    }

    fn host(&self, actor_type: &ActorType) -> Option<Arc<dyn Drain>> {
        self.hosts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(actor_type)
            .and_then(Weak::upgrade)
    }
}

impl Invoker for Arc<InProcessInvoker> {
    fn can_wake(&self, actor_type: &ActorType) -> Result<(), Error> {
        match self.host(actor_type) {
            Some(_) => Ok(()),
            None => Err(Error::NoHost {
                actor_type: actor_type.to_string(),
                fix: format!("register it with this runtime (`register::<T>()` for the type named `{actor_type}`)"),
            }),
        }
    }

    /// A timer task: sleeps until the message is due (by the runtime's clock, measured
    /// now), then nudges. A timer lost with the process is covered by the sweep.
    fn nudge_at<'a>(
        &'a self,
        address: &'a Address,
        at_millis: u64,
    ) -> BoxFuture<'a, Result<(), InvokeError>> {
        let wait = at_millis.saturating_sub(self.clock.now_millis());
        let result = tokio::runtime::Handle::try_current()
            .map(|runtime| {
                let invoker = Arc::downgrade(self);
                let address = address.clone();
                runtime.spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                    // The runtime may be gone by then; so is its mailbox, unless shared.
                    if let Some(invoker) = invoker.upgrade() {
                        let _ = invoker.nudge(&address).await;
                    }
                });
            })
            .map_err(|_| InvokeError {
                actor_type: address.actor_type().to_string(),
                message: "the embedded runtime needs a tokio runtime to arm a scheduled message's timer; the sweep delivers it".into(),
            });
        Box::pin(async move { result })
    }

    fn nudge<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<(), InvokeError>> {
        let result = (|| {
            if self.is_closed() {
                return Err(InvokeError {
                    actor_type: address.actor_type().to_string(),
                    message: "this embedded runtime was shut down (or dropped): the message stays queued for the next runtime over the same store".into(),
                });
            }
            let host = self.host(address.actor_type()).ok_or_else(|| InvokeError {
                actor_type: address.actor_type().to_string(),
                message: "this actor type is not registered with this runtime (or the runtime was dropped); call `register::<T>()` for it first".into(),
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
                    if let Err(error) = Arc::clone(&host).drain(address.id().clone()).await {
                        // The messages stay queued; the next nudge retries them.
                        tracing::warn!(actor = %address, %error, "drain failed; the messages stay queued for the next wake-up");
                    }
                    let mut running = invoker
                        .running
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    match running.get_mut(&address) {
                        Some(again) if *again && !invoker.is_closed() => *again = false,
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
