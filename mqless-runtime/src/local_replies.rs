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

/// The sending end of one ask's reply channel.
pub(crate) type ReplySender = oneshot::Sender<Vec<u8>>;

/// The asks of this process waiting for a reply, by actor and message id.
#[derive(Debug, Default)]
pub(crate) struct LocalReplies {
    waiting: Mutex<HashMap<Key, Waiter>>,
}

/// Both ends of one ask's channel, each taken once. The entry goes when both are: a
/// reply delivered before the asker starts waiting stays in the channel for it.
#[derive(Debug)]
struct Waiter {
    deliver: Option<oneshot::Sender<Vec<u8>>>,
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
                deliver: Some(deliver),
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
        let key = (to.clone(), id);
        let mut waiting = self.waiting();
        let waiter = waiting.get_mut(&key)?;
        let receive = waiter.receive.take();
        if waiter.deliver.is_none() {
            waiting.remove(&key);
        }
        receive
    }

    /// Stops waiting for the reply to `id` (timed out, or the send failed).
    pub(crate) fn forget(&self, to: &Address, id: MessageId) {
        self.waiting().remove(&(to.clone(), id));
    }

    /// The channel to the asker of `id` if it waits in this process (or is about to:
    /// a reply sent stays in the channel), taken once; `None` when nobody here waits,
    /// and then the store gets the reply.
    pub(crate) fn claim(&self, to: &Address, id: MessageId) -> Option<ReplySender> {
        let key = (to.clone(), id);
        let mut waiting = self.waiting();
        let waiter = waiting.get_mut(&key)?;
        let deliver = waiter.deliver.take();
        if waiter.receive.is_none() {
            waiting.remove(&key);
        }
        // Closed when the asker stopped waiting (timed out).
        deliver.filter(|deliver| !deliver.is_closed())
    }

    /// Hands `reply` to the asker of `id` if it waits in this process; whether it did.
    #[cfg(test)]
    pub(crate) fn deliver(&self, to: &Address, id: MessageId, reply: &[u8]) -> bool {
        self.claim(to, id)
            .is_some_and(|deliver| deliver.send(reply.to_vec()).is_ok())
    }

    /// Whether any ask waits here (skips the per-reply lookups when none does).
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{ActorId, ActorType};

    fn address() -> Address {
        Address::new(ActorType::new("A").unwrap(), ActorId::new("a").unwrap())
    }

    #[tokio::test]
    async fn a_reply_delivered_before_the_asker_waits_is_kept_for_it() {
        let replies = LocalReplies::default();
        let id = MessageId::generate(1, None);
        replies.expect(&address(), id);
        // A drain already running commits the message before the asker waits.
        assert!(replies.deliver(&address(), id, b"reply"));
        let receiver = replies.receiver(&address(), id).expect("still there");
        assert_eq!(receiver.await.unwrap(), b"reply");
        assert!(replies.is_empty());
    }

    #[tokio::test]
    async fn a_reply_for_an_asker_that_gave_up_goes_to_the_store() {
        let replies = LocalReplies::default();
        let id = MessageId::generate(1, None);
        replies.expect(&address(), id);
        drop(replies.receiver(&address(), id));
        assert!(!replies.deliver(&address(), id, b"reply"));
        assert!(replies.is_empty());
        assert!(!replies.deliver(&address(), MessageId::generate(2, None), b"x"));
    }
}
