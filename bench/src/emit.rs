//! Scenario 9: what an emission costs (`ctx.emit`). An actor with about 600 B of state
//! handles messages one per drain; each emits a ~200 B event to an SQS queue (moto's
//! server) or, the baseline in the same run, emits nothing. DynamoDB units and requests
//! per message (the emission rides in the commit: its bytes may push the state record
//! over a 1 KB step), SQS requests per message (one `SendMessage` per emission, counted
//! at the emitter), and the ask's latency (the reply comes after the cleanup, which
//! delivers the emission first). Every event is read back from the queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqless::aws::{aws_sdk_sqs, AwsEmitter, Channels, Target};
use mqless::events::{Emission, EmitError, Emitter, Payload};
use mqless::id::Address;
use mqless::store::BoxFuture;
use mqless::{Context, Embedded};
use serde::{Deserialize, Serialize};

use crate::dynamodb::fresh_store;
use crate::report::{cells, ensure, ms, percentiles, Table};
use crate::BenchError;

/// An actor with about 600 bytes of state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Dispatch {
    handled: u64,
    padding: String,
}

/// The event each message emits: about 200 bytes as JSON.
#[derive(Debug, Serialize)]
struct Shipped<'a> {
    order: u64,
    note: &'a str,
}

#[mqless::actor]
impl Dispatch {
    /// Handles order `order`, emitting it to `shipping` when `emit`.
    pub fn handle(&mut self, order: u64, emit: bool, ctx: &mut Context) -> Result<(), String> {
        self.handled += 1;
        if self.padding.is_empty() {
            self.padding = "p".repeat(600);
        }
        if emit {
            let note = "n".repeat(170);
            let event =
                Payload::json(&Shipped { order, note: &note }).map_err(|e| e.to_string())?;
            ctx.emit("shipping", event).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Counts the emitter's deliveries: each is one SQS request.
struct Counted {
    inner: AwsEmitter,
    sent: AtomicU64,
}

impl Emitter for Counted {
    fn emit<'a>(
        &'a self,
        from: &'a Address,
        emission: &'a Emission,
    ) -> BoxFuture<'a, Result<(), EmitError>> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.inner.emit(from, emission)
    }
}

/// `messages` messages, one per drain, each emitting to an SQS queue on moto's server,
/// beside the same messages emitting nothing.
///
/// # Errors
/// No moto endpoint (`AWS_ENDPOINT_URL_SQS`), DynamoDB or SQS failures, or a failed
/// check (an event missing from the queue).
pub async fn emit(messages: u64) -> Result<Table, BenchError> {
    ensure(
        std::env::var_os("AWS_ENDPOINT_URL_SQS").is_some(),
        "AWS_ENDPOINT_URL_SQS points at moto's server (run under scripts/local-aws)",
    )?;
    let config = mqless::aws::load_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = sqs
        .create_queue()
        .queue_name(format!(
            "bench-shipping-{}",
            mqless::MessageId::generate(1, None)
        ))
        .send()
        .await?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let channels = Channels::new().with("shipping", Target::parse(&queue)?)?;
    let emitter = Arc::new(Counted {
        inner: AwsEmitter::new(&config, channels),
        sent: AtomicU64::new(0),
    });
    let store = fresh_store("emit").await?;
    let runtime = Embedded::builder()
        .store(Arc::new(store.clone()))
        .emitter(emitter.clone())
        .build();
    runtime.register::<Dispatch>()?;
    let mut table = Table {
        title: format!("Emitting: {messages} messages, one per drain, to an actor of ~600 B state; each emits a ~200 B JSON event to an SQS queue (moto's server), beside the same messages emitting nothing (DynamoDB Local; units as AWS bills them)"),
        header: ["design", "write units/msg", "read units/msg", "DynamoDB requests/msg", "SQS requests/msg", "p50", "p99"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    for (emits, design) in [
        (false, "a message, emitting nothing (baseline)"),
        (true, "a message emitting one event to SQS"),
    ] {
        let actor = runtime.client::<Dispatch>(if emits { "emits" } else { "quiet" })?;
        // The first message makes the record; measure the steady state after it.
        actor.handle(0, emits).call().await?;
        runtime.settle().await;
        let (before, sent_before) = (store.capacity(), emitter.sent.load(Ordering::SeqCst));
        let mut latencies = Vec::new();
        for order in 1..=messages {
            let started = Instant::now();
            actor.handle(order, emits).call().await?;
            latencies.push(started.elapsed());
            // The drain goes on after the reply (its release, and a last read): the next
            // message waits for it, so each message is one drain of its own, and the
            // counts do not depend on timing.
            runtime.settle().await;
        }
        let used = store.capacity() - before;
        let sent = emitter.sent.load(Ordering::SeqCst) - sent_before;
        let n = messages as f64;
        let p = percentiles(latencies);
        table.rows.push(cells([
            design.into(),
            format!("{:.2}", used.write_units / n),
            format!("{:.2}", used.read_units / n),
            format!("{:.2}", used.requests as f64 / n),
            format!("{:.2}", sent as f64 / n),
            ms(p.p50),
            ms(p.p99),
        ]));
    }
    let received = drain_queue(&sqs, &queue, messages + 1).await?;
    ensure(
        received == messages + 1,
        format!(
            "the queue got every event once ({received} of {})",
            messages + 1
        ),
    )?;
    Ok(table)
}

/// Reads and deletes the queue's messages until `expected` arrived (or it stays empty).
async fn drain_queue(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    expected: u64,
) -> Result<u64, BenchError> {
    let mut received = 0;
    let mut empty_reads = 0;
    while received < expected && empty_reads < 20 {
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .send()
            .await?;
        if out.messages().is_empty() {
            empty_reads += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for message in out.messages() {
            received += 1;
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
        }
    }
    Ok(received)
}
