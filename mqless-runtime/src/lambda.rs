//! The Lambda entry point of an actor type: one function per type, one line of `main`.
//!
//! ```no_run
//! # #[derive(Default, serde::Serialize, serde::Deserialize)] struct Counter;
//! # impl Counter {}
//! # fn main() {}
//! # fn doc<A: mqless_runtime::Actor>() -> Result<(), mqless_runtime::lambda::LambdaError> {
//! mqless_runtime::lambda::serve::<A>()
//! # }
//! ```
//!
//! The function reads its settings from the environment: `MQLESS_TABLE` (required), the
//! AWS chain (region, credentials, endpoints), and `MQLESS_FUNCTIONS` /
//! `MQLESS_FUNCTION_PREFIX` to reach the functions of the actors it sends to. Each
//! invocation drains one actor's mailbox until it is empty or the invocation's deadline
//! is near, then hands the rest to a fresh invocation.

use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::id::{ActorId, Address, MessageId};
use crate::invoke::lambda::LambdaInvoker;
use crate::mailbox::{ActorHost, DrainConfig, DrainEnd, DrainOptions};
use crate::store::dynamodb::DynamoStore;

/// The error type of [`serve`] and [`run`].
pub type LambdaError = lambda_runtime::Error;

/// Invocations a chain of hand-offs may make before it stops. Lambda stops recursive
/// loops at 16; stopping at 15 keeps a chain from being cut by AWS mid-drain, and the
/// next send (or a sweep) resumes the actor.
pub const MAX_HOPS: u32 = 15;
/// How long an invocation waits for its nudges of other actors before answering.
pub const NUDGE_GRACE: std::time::Duration = std::time::Duration::from_millis(300);
/// Largest accepted invocation payload.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// What a function is invoked with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invocation {
    /// The id of the actor whose mailbox to drain.
    pub actor: String,
    /// For asks: the message whose reply to return in the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// How many hand-offs led to this invocation.
    #[serde(default)]
    pub hop: u32,
}

/// What a function answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationResult {
    /// How the drain ended: `Empty`, `Busy`, `Fenced` or `Deadline`.
    pub end: String,
    /// Messages applied.
    pub processed: usize,
    /// Messages dead-lettered.
    pub dead_lettered: usize,
    /// The encoded reply to `reply_to`, base64, when this invocation committed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// DynamoDB requests this invocation made.
    #[serde(default)]
    pub dynamodb_requests: u64,
    /// DynamoDB write units this invocation consumed.
    #[serde(default)]
    pub write_units: f64,
    /// DynamoDB read units this invocation consumed.
    #[serde(default)]
    pub read_units: f64,
}

/// Parses and validates an invocation payload.
///
/// # Errors
/// [`Error::Config`] naming what is wrong: too large, not the expected JSON, an invalid
/// actor id or message id. Never panics.
pub fn parse_invocation(payload: &[u8]) -> Result<(Invocation, ActorId, Option<MessageId>), Error> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(Error::Config(format!(
            "invocation payload is {} bytes, over {MAX_PAYLOAD_BYTES}; expected {{\"actor\": \"<id>\"}}",
            payload.len()
        )));
    }
    let invocation: Invocation = serde_json::from_slice(payload).map_err(|e| {
        Error::Config(format!("invocation payload is not {{\"actor\": \"<id>\", \"reply_to\"?: \"<message id>\"}}: {e}"))
    })?;
    let id = ActorId::new(invocation.actor.as_str())?;
    let reply_to = invocation
        .reply_to
        .as_deref()
        .map(MessageId::parse)
        .transpose()?;
    Ok((invocation, id, reply_to))
}

/// Runs actor type `A` as a Lambda function: builds a tokio runtime and serves
/// invocations until the process ends. The whole `main` of an actor's binary.
///
/// # Errors
/// When the configuration is invalid or the Lambda runtime API fails.
pub fn serve<A: Actor>() -> Result<(), LambdaError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run::<A>())
}

/// [`serve`] inside an existing tokio runtime.
///
/// # Errors
/// As [`serve`].
pub async fn run<A: Actor>() -> Result<(), LambdaError> {
    let handler = Arc::new(Handler::<A>::from_env(DrainConfig::default()).await?);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let handler = Arc::clone(&handler);
            async move {
                handler
                    .handle(&event.payload, event.context.deadline)
                    .await
                    .map_err(LambdaError::from)
            }
        },
    ))
    .await
}

/// What the sweeper function answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepResult {
    /// Actors found with queued messages.
    pub pending: usize,
    /// How many of them were woken.
    pub nudged: usize,
    /// The ones whose wake-up failed, with the reason; the next sweep retries them.
    pub failed: Vec<String>,
}

/// Runs the sweeper as a Lambda function: each invocation (whatever its payload, so an
/// EventBridge schedule can trigger it) wakes every actor in `MQLESS_TABLE` with queued
/// messages, through the functions named by `MQLESS_FUNCTIONS` /
/// `MQLESS_FUNCTION_PREFIX`. This bounds how long a message whose nudge was lost waits
/// (see [`crate::recovery::sweep`]). The whole `main` of the sweeper's binary.
///
/// # Errors
/// When the configuration is invalid or the Lambda runtime API fails.
pub fn serve_sweeper() -> Result<(), LambdaError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let remote = Arc::new(crate::aws::Remote::from_env().await?);
            lambda_runtime::run(lambda_runtime::service_fn(
                move |_: lambda_runtime::LambdaEvent<serde_json::Value>| {
                    let remote = Arc::clone(&remote);
                    async move {
                        let report = crate::actor::Actors::sweep(&*remote).await?;
                        Ok::<_, LambdaError>(SweepResult {
                            pending: report.pending.len(),
                            nudged: report.nudged,
                            failed: report
                                .failed
                                .iter()
                                .map(|(address, error)| format!("{address}: {error}"))
                                .collect(),
                        })
                    }
                },
            ))
            .await
        })
}

/// Lambda's deadline in milliseconds since the Unix epoch. AWS sends exactly that;
/// cargo-lambda's emulator sends the time left (600000 for its 10 minutes), which read as
/// an epoch time would lie in 1970 and stop every drain at once.
fn absolute_deadline(deadline_millis: u64, now_millis: u64) -> u64 {
    // 2001-09-09 in epoch milliseconds: any real deadline is later.
    const EPOCH_FLOOR: u64 = 1_000_000_000_000;
    if deadline_millis < EPOCH_FLOOR {
        now_millis.saturating_add(deadline_millis)
    } else {
        deadline_millis
    }
}

/// One actor type's invocation handler.
pub struct Handler<A> {
    host: ActorHost<A>,
    store: Arc<DynamoStore>,
    invoker: Arc<LambdaInvoker>,
    clock: Arc<dyn Clock>,
}

impl<A> std::fmt::Debug for Handler<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl<A: Actor> Handler<A> {
    /// A handler over the table in `MQLESS_TABLE`, with the AWS configuration from the
    /// standard chain.
    ///
    /// # Errors
    /// When `MQLESS_TABLE` is unset or the function names are invalid.
    pub async fn from_env(config: DrainConfig) -> Result<Self, Error> {
        let table = crate::aws::env_var(
            "MQLESS_TABLE",
            "the DynamoDB table of the mailboxes and state",
        )?;
        let store = Arc::new(DynamoStore::from_env(table).await);
        let invoker = Arc::new(LambdaInvoker::from_env().await?.detached());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let host = ActorHost::new(store.clone(), invoker.clone(), Arc::clone(&clock), config)?;
        Ok(Self {
            host,
            store,
            invoker,
            clock,
        })
    }

    /// Handles one invocation: drains the actor until empty or `deadline_millis` is near.
    ///
    /// # Errors
    /// An invalid payload or a store failure (the messages stay queued; Lambda's retry of
    /// an asynchronous invoke, or the next nudge, drains them).
    pub async fn handle(
        &self,
        payload: &serde_json::Value,
        deadline_millis: u64,
    ) -> Result<serde_json::Value, Error> {
        let bytes = serde_json::to_vec(payload).map_err(|e| Error::Config(e.to_string()))?;
        let (invocation, id, reply_for) = parse_invocation(&bytes)?;
        let options = DrainOptions {
            deadline_millis: Some(absolute_deadline(deadline_millis, self.clock.now_millis())),
            reply_for,
        };
        let before = self.store.capacity();
        let report = self.host.drain_with(&id, options).await?;
        if report.end == DrainEnd::Deadline {
            let address = Address::new(self.host.actor_type().clone(), id.clone());
            let hop = invocation.hop + 1;
            if hop < MAX_HOPS {
                let next = Invocation {
                    actor: id.to_string(),
                    reply_to: None,
                    hop,
                };
                if let Err(error) = self
                    .invoker
                    .invoke(address.actor_type(), &next, false)
                    .await
                {
                    eprintln!("mqless: could not hand {address} to a fresh invocation: {error}");
                }
            } else {
                eprintln!("mqless: {address} reached {MAX_HOPS} hand-offs; the next send to it resumes the drain");
            }
        }
        self.invoker.flush(NUDGE_GRACE).await;
        // Lambda runs one invocation per instance at a time, so the difference is ours.
        let used = self.store.capacity() - before;
        let result = InvocationResult {
            dynamodb_requests: used.requests,
            write_units: used.write_units,
            read_units: used.read_units,
            end: format!("{:?}", report.end),
            processed: report.processed,
            dead_lettered: report.dead_lettered,
            reply: report
                .reply
                .map(|r| base64::engine::general_purpose::STANDARD.encode(r)),
        };
        serde_json::to_value(result).map_err(|e| Error::Config(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_absolute_on_aws_and_relative_on_the_emulator() {
        let now = 1_800_000_000_000;
        assert_eq!(absolute_deadline(now + 5_000, now), now + 5_000);
        assert_eq!(absolute_deadline(600_000, now), now + 600_000);
    }

    #[test]
    fn payloads_are_validated() {
        let (invocation, id, reply) = parse_invocation(br#"{"actor":"c1","hop":2}"#).unwrap();
        assert_eq!((invocation.hop, id.as_str(), reply), (2, "c1", None));
        for bad in [
            &b"{}"[..],
            b"[]",
            b"not json",
            br#"{"actor":""}"#,
            br#"{"actor":"a/b"}"#,
            br#"{"actor":"c1","reply_to":"nope"}"#,
            br#"{"actor":"c1","extra":1}"#,
        ] {
            assert!(
                parse_invocation(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse_invocation(&vec![b' '; MAX_PAYLOAD_BYTES + 1]).is_err());
    }
}
