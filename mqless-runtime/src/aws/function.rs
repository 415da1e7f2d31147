//! The Lambda entry point of an actor type: one function per type, one line of `main`.
//!
//! ```no_run
//! # fn doc<A: mqless_runtime::Actor>() -> Result<(), mqless_runtime::aws::LambdaError> {
//! mqless_runtime::aws::serve::<A>()
//! # }
//! ```
//!
//! The function reads its settings from the environment: `MQLESS_TABLE` (required), the
//! AWS chain (region, credentials, endpoints), and `MQLESS_FUNCTIONS` /
//! `MQLESS_FUNCTION_PREFIX` to reach the functions of the actors it sends to. Each
//! invocation drains one actor's mailbox until it is empty or the invocation's deadline
//! is near, then hands the rest to a fresh invocation.

use super::manifest::Manifest;
use std::sync::Arc;

use base64::Engine;

use super::dynamodb::DynamoStore;
use super::invoker::LambdaInvoker;
use super::payload::{parse_invocation, Invocation, InvocationResult, SendRequest, SweepResult};
use super::{Environment, KeyLayout};
use crate::actor::Actor;
use crate::clock::{Clock, SystemClock};
use crate::codec;
use crate::error::Error;
use crate::id::{Address, MessageId};
use crate::mailbox::{ActorHost, DrainConfig, DrainEnd, DrainOptions};
use crate::runtime::Actors;
use crate::store::{MailboxItem, Store};

/// The error type of [`serve`] and [`run`].
pub type LambdaError = lambda_runtime::Error;

/// Invocations a chain of hand-offs may make before it stops. Lambda stops recursive
/// loops at 16; stopping at 15 keeps a chain from being cut by AWS mid-drain, and the
/// next send (or a sweep) resumes the actor.
pub const MAX_HOPS: u32 = 15;
/// How long an invocation waits for its nudges of other actors before answering.
pub const NUDGE_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

/// Runs actor type `A` as a Lambda function: sets up JSON or text logs as the function is
/// configured (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`), builds a
/// tokio runtime and serves invocations until the process ends. The whole `main` of an
/// actor's binary.
///
/// # Errors
/// When the configuration is invalid or the Lambda runtime API fails.
pub fn serve<A: Actor>() -> Result<(), LambdaError> {
    serve_with::<A>(DrainConfig::default())
}

/// [`serve`] with drain settings of your own, for example optimistic drains, which
/// take most of the cost off actors that get a message now and then (see
/// [`DrainConfig::optimistic`]):
///
/// ```no_run
/// # fn doc<A: mqless_runtime::Actor>() -> Result<(), mqless_runtime::aws::LambdaError> {
/// use mqless_runtime::mailbox::DrainConfig;
/// mqless_runtime::aws::serve_with::<A>(DrainConfig {
///     optimistic: true,
///     ..DrainConfig::default()
/// })
/// # }
/// ```
///
/// # Errors
/// As [`serve`].
pub fn serve_with<A: Actor>(config: DrainConfig) -> Result<(), LambdaError> {
    if Manifest::of::<A>().print_if_asked() {
        return Ok(());
    }
    lambda_runtime::tracing::init_default_subscriber();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_with::<A>(config))
}

/// [`serve`] inside an existing tokio runtime.
///
/// # Errors
/// As [`serve`].
pub async fn run<A: Actor>() -> Result<(), LambdaError> {
    run_with::<A>(DrainConfig::default()).await
}

/// [`serve_with`] inside an existing tokio runtime.
///
/// # Errors
/// As [`serve`].
pub async fn run_with<A: Actor>(config: DrainConfig) -> Result<(), LambdaError> {
    run_with_flush::<A>(config, || {}).await
}

/// [`run_with`] that calls `flush` after each invocation, before it answers: Lambda may
/// freeze the process as soon as it has, so this is where an OpenTelemetry exporter
/// (feature `opentelemetry`) or a metrics client must send what it buffered. Set up
/// your own `tracing` subscriber first (this does not):
///
/// ```no_run
/// # async fn doc<A: mqless_runtime::Actor>(flush: impl Fn() + Send + Sync + 'static) -> Result<(), mqless_runtime::aws::LambdaError> {
/// use mqless_runtime::mailbox::DrainConfig;
/// // e.g. `move || { let _ = provider.force_flush(); }` with the SDK's tracer provider
/// mqless_runtime::aws::run_with_flush::<A>(DrainConfig::default(), flush).await
/// # }
/// ```
///
/// # Errors
/// As [`serve`].
pub async fn run_with_flush<A: Actor>(
    config: DrainConfig,
    flush: impl Fn() + Send + Sync + 'static,
) -> Result<(), LambdaError> {
    if Manifest::of::<A>().print_if_asked() {
        return Ok(());
    }
    let environment = Environment::load().await?;
    let function = Arc::new(ActorFunction::<A>::new(&environment, config)?);
    let flush = Arc::new(flush);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let function = Arc::clone(&function);
            let flush = Arc::clone(&flush);
            async move {
                let handled = function
                    .handle(&event.payload, event.context.deadline)
                    .await
                    .map_err(FunctionError);
                flush();
                handled
            }
        },
    ))
    .await
}

/// An invocation's error as Lambda reports it: `errorType` names the kind of failure
/// (`InvalidInvocation`, `Store`, ...), `errorMessage` says what is wrong and what to do.
#[derive(Debug)]
pub(super) struct FunctionError(pub(super) Error);

impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(FunctionError(error): FunctionError) -> Self {
        let error_type = match &error {
            Error::InvalidInvocation(_) => "InvalidInvocation",
            // Not a failure to retry: the message ran once or not at all.
            Error::Store(store) if store.kind == crate::error::StoreErrorKind::OutcomeUnknown => {
                "OutcomeUnknown"
            }
            Error::Store(_) => "Store",
            Error::Codec(_) => "Codec",
            Error::Invoke(_) => "Invoke",
            Error::Config(_) => "Config",
            Error::InvalidActorId { .. } | Error::InvalidActorType { .. } => "InvalidAddress",
            _ => "Error",
        };
        Self {
            error_type: format!("MQLess.{error_type}"),
            error_message: error.to_string(),
        }
    }
}

/// How long before its deadline a sweep stops and saves its cursor.
const SWEEP_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the sweeper as a Lambda function: each invocation sweeps `MQLESS_TABLE`'s due
/// index (see [`crate::recovery::sweep`]) and wakes what is due through the functions
/// named by `MQLESS_FUNCTIONS` / `MQLESS_FUNCTION_PREFIX`, stopping 5 s before its
/// deadline with a cursor the next sweep continues from. A payload of `{"audit": true}`
/// runs the audit instead (a full scan, see [`crate::recovery::audit`]); any other
/// payload, such as an EventBridge schedule's, sweeps. The whole `main` of the
/// sweeper's binary.
///
/// # Errors
/// When the configuration is invalid or the Lambda runtime API fails.
pub fn serve_sweeper() -> Result<(), LambdaError> {
    if Manifest::sweeper().print_if_asked() {
        return Ok(());
    }
    lambda_runtime::tracing::init_default_subscriber();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let environment = Environment::load().await?;
            record_the_stacks_key_layout(&environment).await;
            let remote = Arc::new(environment.remote());
            lambda_runtime::run(lambda_runtime::service_fn(
                move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
                    let remote = Arc::clone(&remote);
                    async move {
                        let request: super::payload::SweepRequest =
                            serde_json::from_value(event.payload).unwrap_or_default();
                        let now = SystemClock.now_millis();
                        let deadline = absolute_deadline(event.context.deadline, now);
                        let report = sweeper_run(&remote, &request, deadline.saturating_sub(now))
                            .await
                            .map_err(FunctionError)?;
                        Ok::<_, FunctionError>(SweepResult::of(&report))
                    }
                },
            ))
            .await
        })
}

/// A table made by a template records no key layout (CloudFormation writes no items),
/// and a process not told its layout takes such a table for v1. The sweeper, told the
/// stack's layout by the template (`MQLESS_KEY_LAYOUT`), records it where none is
/// recorded yet, when it starts; it says so when the table records another. A failure
/// is logged, never fatal: the sweep matters more.
async fn record_the_stacks_key_layout(environment: &Environment) {
    let Ok(Some(told)) = KeyLayout::from_env_if_set() else {
        return;
    };
    match environment.store().record_key_layout_if_none(told).await {
        Ok(recorded) if recorded == told => {}
        Ok(recorded) => tracing::warn!(
            %told, %recorded,
            "the table records another key layout than MQLESS_KEY_LAYOUT: processes not told theirs go by the table; run `mqless doctor`, and `mqless migrate` to move a table to v2"
        ),
        Err(error) => tracing::warn!(
            %error,
            "could not record the stack's key layout in the table, so processes not told MQLESS_KEY_LAYOUT take it for v1; grant the sweeper GetItem and PutItem of the `~table` item (the policy `mqless template` writes does), or run `mqless table create --key-layout` once"
        ),
    }
}

/// What one invocation of the sweeper does with `left_ms` before its deadline: an
/// audit, one sweep, or (`every_ms`) a sweep every so often until the deadline less
/// [`SWEEP_MARGIN`], each stopping with a cursor if it runs into that.
async fn sweeper_run(
    remote: &super::Remote,
    request: &super::payload::SweepRequest,
    left_ms: u64,
) -> Result<crate::recovery::SweepReport, Error> {
    if request.audit {
        return remote.audit().await;
    }
    let started = std::time::Instant::now();
    let mut stop_at =
        started + std::time::Duration::from_millis(left_ms).saturating_sub(SWEEP_MARGIN);
    if let Some(for_ms) = request.for_ms {
        stop_at = stop_at.min(started + std::time::Duration::from_millis(for_ms));
    }
    let mut report = remote.sweep_until(stop_at).await?;
    let Some(every) = request.every_ms.filter(|ms| *ms > 0) else {
        return Ok(report);
    };
    let every = std::time::Duration::from_millis(every);
    let mut next = started + every;
    while next < stop_at {
        tokio::time::sleep_until(next.into()).await;
        report.absorb(remote.sweep_until(stop_at).await?);
        next += every;
    }
    Ok(report)
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

/// The Lambda function of actor type `A`: each invocation drains one actor's mailbox.
pub struct ActorFunction<A> {
    host: ActorHost<A>,
    store: Arc<DynamoStore>,
    invoker: Arc<LambdaInvoker>,
    clock: Arc<dyn Clock>,
}

impl<A> std::fmt::Debug for ActorFunction<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorFunction")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl<A: Actor> ActorFunction<A> {
    /// The function over the table and functions `environment` names.
    ///
    /// # Errors
    /// [`Error::InvalidActorType`] when `A`'s type name is invalid.
    pub fn new(environment: &Environment, config: DrainConfig) -> Result<Self, Error> {
        let store = Arc::new(environment.store());
        // Nudges from inside a function run detached (see `LambdaInvoker::detached`).
        let invoker = Arc::new(environment.invoker().detached());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let host = ActorHost::new(store.clone(), invoker.clone(), Arc::clone(&clock), config)?
            .with_emitter(Arc::new(environment.emitter()));
        Ok(Self {
            host,
            store,
            invoker,
            clock,
        })
    }

    /// Lets the handlers reach `events`: topics fan out through it.
    #[must_use]
    pub(crate) fn with_events(mut self, events: Arc<crate::events::EventRoutes>) -> Self {
        self.host = self.host.with_events(events);
        self
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
        let (invocation, id, mut reply_for) = parse_invocation(&bytes)?;
        invocation.check_type(self.host.actor_type().as_str())?;
        let before = self.store.capacity();
        let address = Address::new(self.host.actor_type().clone(), id.clone());
        let mut queued = None;
        if let Some(send) = &invocation.send {
            let item = self.queue(&address, send).await?;
            if send.ask {
                reply_for = Some(item);
            }
            queued = Some(item);
        }
        let options = DrainOptions {
            deadline_millis: Some(absolute_deadline(deadline_millis, self.clock.now_millis())),
            reply_for,
        };
        let span = tracing::info_span!("drain", actor = %address, hop = invocation.hop);
        let report =
            tracing::Instrument::instrument(self.host.drain_with(&id, options), span).await?;
        if report.end == DrainEnd::Deadline {
            let hop = invocation.hop.saturating_add(1);
            if hop < MAX_HOPS {
                let next = Invocation {
                    hop,
                    ..Invocation::drain(&address)
                };
                if let Err(error) = self
                    .invoker
                    .invoke(address.actor_type(), &next, false)
                    .await
                {
                    tracing::warn!(actor = %address, %error, "could not hand the rest of the mailbox to a fresh invocation; the next send or sweep resumes it");
                }
            } else {
                tracing::warn!(actor = %address, "reached {MAX_HOPS} hand-offs in a row; the next send or sweep resumes the drain");
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
            quarantine: report.quarantine,
            reply: report
                .reply
                .map(|r| base64::engine::general_purpose::STANDARD.encode(r)),
            id: queued.map(|id| id.to_string()),
        };
        serde_json::to_value(result).map_err(|e| Error::Config(e.to_string()))
    }

    /// Queues the message of a `send` invocation under an id generated here, above the
    /// sender's `after`; refuses a body that is not a message of `A`, before it is queued.
    async fn queue(&self, address: &Address, send: &SendRequest) -> Result<MessageId, Error> {
        let limits = &self.host.config().limits;
        let (envelope, after) = send.envelope(limits)?;
        codec::decode::<A::Message>(&envelope.body, "message", limits.max_message_bytes, limits.max_depth)
            .map_err(|e| {
                Error::InvalidInvocation(format!(
                    "`send.body` is not a message of actor type `{}` ({e}); a body is the MessagePack map {{\"<method>\": {{<argument>: <value>, ..}}}} (docs/wire.md, \"Message bodies\")",
                    A::TYPE_NAME
                ))
            })?;
        let item = MailboxItem {
            // A scheduled message's id carries its time (and is no floor for `after`).
            id: envelope.at.map_or_else(
                || MessageId::generate(self.clock.now_millis(), after),
                MessageId::scheduled,
            ),
            envelope: envelope.encode(limits)?,
        };
        self.store.enqueue(address, &item).await?;
        Ok(item.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_whose_outcome_is_unknown_is_an_error_type_of_its_own() {
        use crate::error::{StoreError, StoreErrorKind};
        let diagnostic = |kind| {
            lambda_runtime::Diagnostic::from(FunctionError(Error::Store(StoreError::new(
                kind,
                "what happened",
            ))))
        };
        assert_eq!(
            diagnostic(StoreErrorKind::OutcomeUnknown).error_type,
            "MQLess.OutcomeUnknown"
        );
        assert_eq!(
            diagnostic(StoreErrorKind::Unavailable).error_type,
            "MQLess.Store"
        );
    }

    #[test]
    fn deadlines_are_absolute_on_aws_and_relative_on_the_emulator() {
        let now = 1_800_000_000_000;
        assert_eq!(absolute_deadline(now + 5_000, now), now + 5_000);
        assert_eq!(absolute_deadline(600_000, now), now + 600_000);
    }
}
