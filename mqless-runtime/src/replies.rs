//! Replies delivered in process. When an ask's handler runs in the asker's own process
//! (the embedded runtime, over any store), the drain hands the reply to the waiting
//! asker right after its commit: the asker does not poll the store, and the reply item
//! is not written. A reply nobody here waits for (the asker timed out, or lives in
//! another process) is written to the store as usual.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::id::{Address, MessageId};

type Key = (Address, MessageId);

/// The asks of this process waiting for a reply, by actor and message id.
#[derive(Debug, Default)]
pub(crate) struct LocalReplies {
    waiting: Mutex<HashMap<Key, Waiter>>,
}

#[derive(Debug)]
struct Waiter {
    deliver: oneshot::Sender<Vec<u8>>,
    receive: Option<oneshot::Receiver<Vec<u8>>>,
}

impl LocalReplies {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Waiter>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that this process will wait for the reply to `id`: called before the
    /// message is enqueued, so a drain that commits it at once finds the waiter.
    pub(crate) fn expect(&self, to: &Address, id: MessageId) {
        let (deliver, receive) = oneshot::channel();
        self.waiting().insert(
            (to.clone(), id),
            Waiter {
                deliver,
                receive: Some(receive),
            },
        );
    }

    /// The receiving end of an expected reply, once.
    pub(crate) fn receiver(
        &self,
        to: &Address,
        id: MessageId,
    ) -> Option<oneshot::Receiver<Vec<u8>>> {
        self.waiting()
            .get_mut(&(to.clone(), id))
            .and_then(|waiter| waiter.receive.take())
    }

    /// Stops waiting for the reply to `id` (timed out, or the send failed).
    pub(crate) fn forget(&self, to: &Address, id: MessageId) {
        self.waiting().remove(&(to.clone(), id));
    }

    /// Hands `reply` to the asker of `id` if it waits in this process; whether it did.
    pub(crate) fn deliver(&self, to: &Address, id: MessageId, reply: &[u8]) -> bool {
        let waiter = self.waiting().remove(&(to.clone(), id));
        waiter.is_some_and(|waiter| waiter.deliver.send(reply.to_vec()).is_ok())
    }

    /// Whether any ask waits here (skips the per-reply lookups when none does).
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting().is_empty()
    }
}
