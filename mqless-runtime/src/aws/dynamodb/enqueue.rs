//! Queueing a message once, even when DynamoDB's answer to its put is lost.
//!
//! The SDK repeats a request whose answer it did not get, and the first attempt may have
//! landed. The protocol's other writes recognise their own landed write in a repeat
//! (docs/design.md, "Writes whose answers are lost"), but a message's put can find
//! nothing: the message may have run and been deleted meanwhile, and the repeat queues
//! it again, to run twice. So this put is never repeated blindly:
//!
//! - refused by throttling (nothing written): tried again, with the client's backoff;
//! - unanswered (a 5xx, a timeout, a dropped connection): settled by reading. Still
//!   queued, or among the ids its actor's last batch consumed: it is queued. Otherwise
//!   it never landed, or it ran and a later batch committed since, and no read tells
//!   which. A message with an idempotency key is put again (its actor consumes a repeat
//!   without running it); one without is reported as [`StoreErrorKind::OutcomeUnknown`].

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;

use super::schema::{message_key, queued_message, Item, QUEUED_KEY_ATTRIBUTES};
use super::DynamoStore;
use crate::codec::Limits;
use crate::error::{StoreError, StoreErrorKind};
use crate::id::{random_u64, Address};
use crate::mailbox::consumed_by_last_batch;
use crate::store::{MailboxItem, Store};
use crate::wire::Envelope;

/// What the reads after an unanswered put found.
enum Settled {
    /// The message is queued, or it ran.
    Queued,
    /// It may never have landed, and putting it again is safe: it has an idempotency key.
    /// The put's error, for when the attempts run out.
    PutAgain(StoreError),
}

impl DynamoStore {
    /// Puts `message` into `to`'s mailbox, once (see the module's docs).
    pub(super) async fn queue_once(
        &self,
        to: &Address,
        message: &MailboxItem,
    ) -> Result<(), StoreError> {
        let item = queued_message(self.layout, to, message);
        let retry = self
            .client
            .config()
            .retry_config()
            .cloned()
            .unwrap_or_else(RetryConfig::standard);
        let mut attempt = 1;
        loop {
            let unanswered = match self.put_message(item.clone()).await {
                Ok(()) => return Ok(()),
                Err(error) if error.kind == StoreErrorKind::Unavailable => error,
                Err(error)
                    if error.kind == StoreErrorKind::Throttled
                        && attempt < retry.max_attempts() =>
                {
                    tokio::time::sleep(backoff(&retry, attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(error) => return Err(error),
            };
            match self.settle(to, message, unanswered).await? {
                Settled::Queued => return Ok(()),
                // DynamoDB failing every attempt: its error (retryable, and a resend
                // under the key is safe).
                Settled::PutAgain(unanswered) if attempt >= retry.max_attempts() => {
                    return Err(unanswered)
                }
                Settled::PutAgain(_) => {
                    tokio::time::sleep(backoff(&retry, attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One attempt at the put, which the SDK must not repeat. An item already there is
    /// the message, queued by an earlier attempt.
    async fn put_message(&self, item: Item) -> Result<(), StoreError> {
        let result = self
            .put_if_absent_request(item)
            .customize()
            .config_override(
                aws_sdk_dynamodb::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await;
        self.counted_if(result).map(drop)
    }

    /// What became of `message`, whose put went `unanswered`. A read that cannot reach
    /// DynamoDB either settles nothing, and the put's own error is returned (it may or
    /// may not have landed); one refused (IAM) tells nothing, as a message not found.
    async fn settle(
        &self,
        to: &Address,
        message: &MailboxItem,
        unanswered: StoreError,
    ) -> Result<Settled, StoreError> {
        let (landed, found) = match self.landed(to, message).await {
            Ok(Some(landed)) => (landed, format!("It is not queued, nor among the messages {to} last ran: it never landed, or it ran and later messages ran after it")),
            Ok(None) => (false, format!("It is not queued, and what {to} last ran is not for this role to read (key layout v2 keeps clients out of an actor's bookkeeping): it never landed, or it ran")),
            Err(read) if read.is_retryable() => return Err(unanswered),
            Err(read) => (false, format!("Reading it back failed too ({read}): it may be queued, have run, or never have landed")),
        };
        if landed {
            Ok(Settled::Queued)
        } else if has_idempotency_key(&message.envelope) {
            Ok(Settled::PutAgain(unanswered))
        } else {
            Err(StoreError::new(
                StoreErrorKind::OutcomeUnknown,
                format!(
                    "DynamoDB did not answer whether message {} was queued for {to} ({}). {found}. It was not put again, which could run it twice; resend it with an idempotency key (`.idempotency_key(..)`) to be safe",
                    message.id, unanswered.message
                ),
            ))
        }
    }

    /// Whether `message` is queued for `to`, or its last batch consumed it; `None` when
    /// it is not queued and IAM refuses reading the actor's record (the bookkeeping,
    /// which v2's `ClientPolicy` keeps from clients).
    async fn landed(
        &self,
        to: &Address,
        message: &MailboxItem,
    ) -> Result<Option<bool>, StoreError> {
        // By its key only: its envelope is what v2's `ClientPolicy` keeps from clients.
        let queued = message_key(self.layout, to, message.id);
        if self
            .get_of(queued, Some(&QUEUED_KEY_ATTRIBUTES))
            .await?
            .is_some()
        {
            return Ok(Some(true));
        }
        let record = match self.load_state(to).await {
            Ok(record) => record,
            Err(refused) if refused.kind == StoreErrorKind::AccessDenied => return Ok(None),
            Err(error) => return Err(error),
        };
        let meta = record.as_ref().and_then(|record| record.meta.as_deref());
        // Bookkeeping that does not decode tells nothing: the message is not found there.
        let consumed = consumed_by_last_batch(meta).unwrap_or_default();
        Ok(Some(consumed.contains(&message.id)))
    }
}

/// Whether an envelope carries an idempotency key (one that does not decode: no).
fn has_idempotency_key(envelope: &[u8]) -> bool {
    let limits = Limits {
        max_message_bytes: envelope.len(),
        ..Limits::default()
    };
    Envelope::decode(envelope, &limits).is_ok_and(|envelope| envelope.key.is_some())
}

/// The wait before attempt `attempt + 1`: exponential from the client's initial backoff,
/// capped at its maximum, with full jitter.
fn backoff(retry: &RetryConfig, attempt: u32) -> Duration {
    let ceiling = retry
        .initial_backoff()
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(retry.max_backoff());
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(random_u64() % millis.saturating_add(1))
}
