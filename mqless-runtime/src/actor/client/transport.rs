//! Where a client's messages go: the [`Transport`] trait, and [`StoreTransport`], the
//! transport of clients outside actors (the store, then a wake-up). A handler's context
//! is the other transport (`actor::context::Outbox`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::Instrument as _;

use super::SendOptions;
use crate::clock::Clock;
use crate::codec::Limits;
use crate::error::Error;
use crate::id::{Address, MessageId};
use crate::invoke::Invoker;
use crate::local_replies::LocalReplies;
use crate::store::{MailboxItem, StateRecord, Store};
use crate::BoxFuture;

/// Where a client's messages go: the store (from outside an actor) or the outbox of the
/// running batch (from inside a handler).
pub trait Transport: Send + Sync + 'static {
    /// Makes the message durable (or, in a handler, part of the batch) and returns its id.
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        body: Vec<u8>,
        options: &'a SendOptions,
        ask: bool,
    ) -> BoxFuture<'a, Result<MessageId, Error>>;

    /// Waits up to `timeout` for the encoded reply to `id`.
    fn wait_reply<'a>(
        &'a self,
        to: &'a Address,
        id: MessageId,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>>;

    /// Whether asks can be made through this transport.
    fn allows_ask(&self) -> bool;

    /// The committed `#state` record of `to` (one strongly consistent read), for
    /// `.query()`.
    ///
    /// # Errors
    /// A store failure, or a transport that cannot read state (a handler's context).
    fn committed_state<'a>(
        &'a self,
        to: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, Error>>;

    /// The transport's clock, in milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    /// The payload limits.
    fn limits(&self) -> Limits;
}

/// Who a client's asks come from, where the store keeps replies apart by asker (key
/// layout v2 on DynamoDB, see `aws::CallerIdentity`): the identity goes in each ask's
/// envelope, and the reply is read where the store keeps it for that identity.
pub trait AskerIdentity: Send + Sync + 'static {
    /// The identity, a valid [`crate::wire::valid_asker`] (resolved once, then kept).
    fn asker(&self) -> BoxFuture<'_, Result<Arc<str>, Error>>;
}

/// The transport of clients outside actors: enqueue into the store, then nudge the
/// actor's handler.
pub struct StoreTransport {
    store: Arc<dyn Store>,
    invoker: Arc<dyn Invoker>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    /// Every actor sent to, when asked to keep track (see [`StoreTransport::track`]).
    sent_to: Option<Arc<Mutex<BTreeSet<Address>>>>,
    /// Asks whose handler runs in this process get their reply from here.
    local_replies: Option<Arc<LocalReplies>>,
    /// Who this transport's asks come from, if the store keeps replies by asker.
    asker: Option<Arc<dyn AskerIdentity>>,
}

impl StoreTransport {
    /// A transport over `store` that wakes handlers through `invoker`.
    pub fn new(
        store: Arc<dyn Store>,
        invoker: Arc<dyn Invoker>,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self {
            store,
            invoker,
            clock,
            limits,
            sent_to: None,
            local_replies: None,
            asker: None,
        }
    }

    /// Names every ask this transport makes as coming from `asker`, and reads replies
    /// where the store keeps them for it.
    #[must_use]
    pub fn asker(mut self, asker: Arc<dyn AskerIdentity>) -> Self {
        self.asker = Some(asker);
        self
    }

    /// The identity this transport's asks carry, if it names one.
    async fn asker_identity(&self) -> Result<Option<Arc<str>>, Error> {
        match &self.asker {
            Some(source) => Ok(Some(source.asker().await?)),
            None => Ok(None),
        }
    }

    /// Receives the replies of drains that run in this process directly (see
    /// `crate::local_replies`), instead of reading them from the store.
    #[must_use]
    pub(crate) fn local_replies(mut self, replies: Arc<LocalReplies>) -> Self {
        self.local_replies = Some(replies);
        self
    }

    /// Notes every actor this transport sends to in `sent_to` (what `settle` waits for).
    #[must_use]
    pub fn track(mut self, sent_to: Arc<Mutex<BTreeSet<Address>>>) -> Self {
        self.sent_to = Some(sent_to);
        self
    }
}

impl Transport for StoreTransport {
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        body: Vec<u8>,
        options: &'a SendOptions,
        ask: bool,
    ) -> BoxFuture<'a, Result<MessageId, Error>> {
        if let Some(sent_to) = &self.sent_to {
            let mut sent_to = sent_to.lock().unwrap_or_else(PoisonError::into_inner);
            if !sent_to.contains(to) {
                sent_to.insert(to.clone());
            }
        }
        if options.reply_to.is_some() {
            return Box::pin(async {
                Err(Error::InvalidReplyTo(
                    "only a handler can ask with reply_to (its reply is a message to the asking actor); outside one, use `.call()`",
                ))
            });
        }
        let id = options.message_id(|| MessageId::generate(self.clock.now_millis(), None));
        let mut envelope = options.envelope(body, ask);
        let span = tracing::debug_span!(
            "send",
            actor = %to,
            message_id = %id,
            method = crate::wire::method_name(&envelope.body).unwrap_or("?"),
            trace = envelope.trace.as_deref().unwrap_or("-"),
        );
        let sending = async move {
            if ask {
                envelope.asker = self.asker_identity().await?.map(|asker| asker.to_string());
            }
            let envelope = envelope.encode(&self.limits)?;
            let local = self.local_replies.as_ref().filter(|_| ask);
            if let Some(local) = local {
                local.expect(to, id);
            }
            if let Err(error) = self.store.enqueue(to, &MailboxItem { id, envelope }).await {
                if let Some(local) = local {
                    local.forget(to, id);
                }
                return Err(error.into());
            }
            if let Some(at) = options.deliver_at {
                // Woken when it is due: by a timer where the runtime has one, else by the
                // sweep, which finds it in the due index (see `Invoker::nudge_at`).
                if let Err(error) = self.invoker.nudge_at(to, at).await {
                    tracing::warn!(actor = %to, message = %id, %error, "scheduled message queued, but arming its wake-up failed; the sweep delivers it");
                }
                return Ok(id);
            }
            // An ask wakes the handler in `wait_reply`, where it can wait for the reply.
            if !ask {
                if let Err(error) = self.invoker.nudge(to).await {
                    // The message is durable, so a failed wake-up must not make the caller
                    // send it again: mark the actor, and the sweep wakes it.
                    let now = self.clock.now_millis();
                    crate::store::due::mark_unwoken(&*self.store, to, id, now, &error).await;
                }
            }
            Ok(id)
        };
        Box::pin(sending.instrument(span))
    }

    fn wait_reply<'a>(
        &'a self,
        to: &'a Address,
        id: MessageId,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let local = self.local_replies.as_ref();
            if let Some(receiver) = local.and_then(|local| local.receiver(to, id)) {
                // The drain runs here: wake it, and take the reply from it directly.
                if let Err(error) = self.invoker.nudge(to).await {
                    tracing::warn!(actor = %to, message = %id, %error, "message queued, but waking its actor failed; waiting for another drain to answer");
                }
                if let Ok(Ok(reply)) = tokio::time::timeout(timeout, receiver).await {
                    return Ok(Some(reply));
                }
                // Timed out, or answered by no drain here: the store has it, if anyone.
                if let Some(local) = local {
                    local.forget(to, id);
                }
                return self.read_reply(to, id, deadline).await;
            }
            match tokio::time::timeout(timeout, self.invoker.wake_for_reply(to, id)).await {
                Ok(Ok(Some(reply))) => return Ok(Some(reply)),
                Ok(Ok(None)) => {}
                // The message is queued: another invocation may still answer it.
                Ok(Err(error)) => tracing::warn!(
                    actor = %to, message = %id, %error,
                    "message queued, but waking its actor failed; waiting for another drain to answer"
                ),
                // The invocation outlasted the ask (a cold start under load): one read of
                // the reply, and of whether the actor is quarantined, as at any timeout.
                Err(_) => {}
            }
            self.read_reply(to, id, deadline).await
        })
    }

    fn allows_ask(&self) -> bool {
        true
    }

    fn committed_state<'a>(
        &'a self,
        to: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, Error>> {
        Box::pin(async move { Ok(self.store.load_committed_state(to).await?) })
    }

    fn now_millis(&self) -> u64 {
        self.clock.now_millis()
    }

    fn limits(&self) -> Limits {
        self.limits
    }
}

impl StoreTransport {
    /// Waits for the reply to `id` in the store until `deadline`.
    async fn read_reply(
        &self,
        to: &Address,
        id: MessageId,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Vec<u8>>, Error> {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let asker = self.asker_identity().await?;
        let reply = self
            .store
            .wait_reply(to, id, asker.as_deref(), left)
            .await?;
        if reply.is_none() {
            // One read, only on a timeout: say so if nothing answers because the actor
            // is quarantined (its messages, this one too, wait for an operator).
            if let Some(q) = self
                .store
                .load_committed_state(to)
                .await?
                .and_then(|r| r.quarantine)
            {
                return Err(Error::Quarantined {
                    address: to.to_string(),
                    reason: q.reason,
                    since: q.since,
                });
            }
        }
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::invoke::RecordingInvoker;
    use crate::store::memory::MemoryStore;
    use crate::wire::Envelope;

    struct Named(Result<Arc<str>, &'static str>);

    impl AskerIdentity for Named {
        fn asker(&self) -> BoxFuture<'_, Result<Arc<str>, Error>> {
            let answer = self.0.clone().map_err(|why| Error::Config(why.into()));
            Box::pin(async move { answer })
        }
    }

    fn transport(store: &Arc<MemoryStore>, asker: Named) -> StoreTransport {
        StoreTransport::new(
            Arc::clone(store) as Arc<dyn Store>,
            Arc::new(RecordingInvoker::new()),
            Arc::new(SystemClock),
            Limits::DEFAULT,
        )
        .asker(Arc::new(asker))
    }

    async fn queued(store: &MemoryStore, to: &Address) -> Vec<Envelope> {
        store
            .read_mailbox(to, 10)
            .await
            .unwrap()
            .iter()
            .map(|item| Envelope::decode(&item.envelope, &Limits::DEFAULT).unwrap())
            .collect()
    }

    /// An invoker whose invocations outlast any ask, as a function's cold start under
    /// load can.
    #[derive(Debug)]
    struct Hanging;

    impl crate::invoke::Invoker for Hanging {
        fn nudge<'a>(
            &'a self,
            _: &'a Address,
        ) -> BoxFuture<'a, Result<(), crate::error::InvokeError>> {
            Box::pin(std::future::pending())
        }
    }

    /// An ask whose invocation is still running at its timeout reads whether the actor
    /// is quarantined, as any timed-out ask does, instead of a bare timeout.
    #[tokio::test]
    async fn an_ask_whose_invocation_outlasts_it_still_names_a_quarantine() {
        let store = Arc::new(MemoryStore::new());
        let to = Address::parse("Counter/q").unwrap();
        let quarantine = crate::store::QuarantineRecord {
            reason: "its state does not decode".into(),
            since: 1,
        };
        assert!(store.quarantine(&to, 0, &quarantine).await.unwrap());
        let asker = StoreTransport::new(
            Arc::clone(&store) as Arc<dyn Store>,
            Arc::new(Hanging),
            Arc::new(SystemClock),
            Limits::DEFAULT,
        );
        let options = SendOptions::default();
        let id = asker
            .enqueue(&to, vec![0x80], &options, true)
            .await
            .unwrap();
        let waited = asker.wait_reply(&to, id, Duration::from_millis(20)).await;
        assert!(
            matches!(&waited, Err(Error::Quarantined { reason, .. }) if reason.contains("does not decode")),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn asks_name_the_transports_asker_and_tells_do_not() {
        let store = Arc::new(MemoryStore::new());
        let to = Address::parse("Counter/c").unwrap();
        let alice = transport(&store, Named(Ok("AIDAALICE".into())));
        let options = SendOptions::default();
        alice
            .enqueue(&to, vec![0x80], &options, true)
            .await
            .unwrap();
        alice
            .enqueue(&to, vec![0x80], &options, false)
            .await
            .unwrap();
        let askers: Vec<_> = queued(&store, &to)
            .await
            .into_iter()
            .map(|e| e.asker)
            .collect();
        assert_eq!(askers, [Some("AIDAALICE".to_owned()), None]);

        // An identity that cannot be had fails the ask before anything is queued.
        let nobody = transport(&store, Named(Err("STS is out of reach")));
        let error = nobody
            .enqueue(&to, vec![0x80], &options, true)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("STS is out of reach"), "{error}");
        assert_eq!(queued(&store, &to).await.len(), 2);
    }
}
