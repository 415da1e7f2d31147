//! Scenario 6: time. How late a scheduled message runs after its time, and how long an ask
//! between actors (`reply_to`) takes to come back, beside an immediate send; on the
//! embedded runtime (in-memory store, tokio timers) and on DynamoDB Local (handlers in
//! this process, the same timers), with DynamoDB units per message. Every message is
//! drained alone, the common case of timers: immediate sends and asks one after another,
//! scheduled sends to one actor each, their timers 25 ms apart.

use std::sync::Arc;
use std::time::Duration;

use mqless::prelude::*;
use mqless::store::Store;
use serde::{Deserialize, Serialize};

use crate::dynamodb::{fresh_store, now_millis};
use crate::report::{cells, ensure, percentiles, Table};
use crate::BenchError;

/// Records how late each message ran (milliseconds after it was due or sent). About
/// 1 KB of state, like the other scenarios.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Clocked {
    lags_ms: Vec<u64>,
    padding: String,
}

#[mqless::actor]
impl Clocked {
    /// Records how late this ran after `due_ms`.
    pub fn stamp(&mut self, due_ms: u64, ctx: &Context) {
        self.lag(due_ms, ctx);
    }

    /// Asks `peer` to echo the time with `reply_to`; the reply records the round trip.
    pub async fn ask(&mut self, peer: String, ctx: &mut Context) -> Result<(), RuntimeError> {
        let me = ctx.actor::<Clocked>(ctx.id().as_str())?;
        ctx.actor::<Clocked>(peer)?
            .echo(ctx.now_millis())
            .reply_to(|reply| me.answered(reply))
            .send()
            .await?;
        Ok(())
    }

    /// Commits a first state, so that the messages measured find one.
    pub fn warm_up(&mut self) {
        self.padding = "t".repeat(800);
    }

    /// Returns `sent_ms`.
    pub fn echo(&self, sent_ms: u64) -> u64 {
        sent_ms
    }

    /// An echo came back: records the round trip.
    pub fn answered(&mut self, reply: Reply<u64>, ctx: &Context) {
        if let Reply::Ok(sent_ms) = reply {
            self.lag(sent_ms, ctx);
        }
    }

    /// The lags recorded.
    pub fn lags(&self) -> Vec<u64> {
        self.lags_ms.clone()
    }
}

impl Clocked {
    fn lag(&mut self, since_ms: u64, ctx: &Context) {
        self.lags_ms.push(ctx.now_millis().saturating_sub(since_ms));
        if self.padding.is_empty() {
            self.padding = "t".repeat(800);
        }
    }
}

/// One kind of message: what it measures, its lags, and its DynamoDB units per message.
struct Measured {
    kind: &'static str,
    lags: Vec<u64>,
    units: Option<(f64, f64, f64)>,
}

/// Runs `count` messages of each kind on the embedded runtime and on DynamoDB Local.
///
/// # Errors
/// DynamoDB failures, or a message that did not run.
pub async fn timers(count: usize) -> Result<Table, BenchError> {
    let mut rows = Vec::new();
    let memory: Arc<dyn Store> = Arc::new(mqless::store::MemoryStore::new());
    for measured in measure(memory, None, count).await? {
        rows.push(row("embedded", &measured));
    }
    let dynamo = fresh_store("timers").await?;
    let store: Arc<dyn Store> = Arc::new(dynamo.clone());
    for measured in measure(store, Some(&dynamo), count).await? {
        rows.push(row("DynamoDB Local", &measured));
    }
    Ok(Table {
        title: format!("Time: {count} messages of each kind, each drained alone (scheduled 1 s ahead, one per actor; asks with reply_to, round trip in one process); lag = handled - due (or - sent), ms resolution"),
        header: ["store", "message", "lag p50", "lag p99", "write units/msg", "read units/msg", "requests/msg"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}

fn row(store: &str, measured: &Measured) -> Vec<String> {
    let lags = percentiles(
        measured
            .lags
            .iter()
            .map(|&lag| Duration::from_millis(lag))
            .collect(),
    );
    let [write, read, requests] = measured.units.map_or_else(
        || ["-".to_owned(), "-".to_owned(), "-".to_owned()],
        |(w, r, q)| [format!("{w:.2}"), format!("{r:.2}"), format!("{q:.2}")],
    );
    cells([
        store.to_owned(),
        measured.kind.to_owned(),
        whole_ms(lags.p50),
        whole_ms(lags.p99),
        write,
        read,
        requests,
    ])
}

async fn measure(
    store: Arc<dyn Store>,
    dynamo: Option<&mqless::aws::dynamodb::DynamoStore>,
    count: usize,
) -> Result<Vec<Measured>, BenchError> {
    let runtime = Embedded::builder().store(store).build();
    runtime.register::<Clocked>()?;
    let units = || dynamo.map(mqless::aws::dynamodb::DynamoStore::capacity);
    let per_message = |before: Option<mqless::aws::dynamodb::Capacity>, n: usize| {
        before.zip(units()).map(|(before, after)| {
            let used = after - before;
            let n = n as f64;
            (
                used.write_units / n,
                used.read_units / n,
                used.requests as f64 / n,
            )
        })
    };
    // Each message is drained alone, whatever the machine's speed (units per message
    // would otherwise depend on it: drains that overlap batch, or find the actor busy).
    // Immediate sends and asks wait for the runtime to settle before the next.
    let immediate = runtime.client::<Clocked>("immediate")?;
    let before = units();
    for _ in 0..count {
        immediate.stamp(now_millis()).send().await?;
        runtime.settle().await;
    }
    let immediate_units = per_message(before, count);

    // Scheduled messages are all sent ahead, 25 ms apart, so their timers run side by
    // side: one per actor, so that timers that overlap never share a mailbox. Each actor
    // has committed before (a first message takes the lease), outside the measurement.
    let scheduled: Vec<_> = (0..count)
        .map(|n| runtime.client::<Clocked>(format!("scheduled-{n}")))
        .collect::<Result<_, _>>()?;
    for actor in &scheduled {
        actor.warm_up().send().await?;
    }
    runtime.settle().await;
    let before = units();
    let spacing = 25;
    let first_due = now_millis() + 1_000;
    for (n, actor) in scheduled.iter().enumerate() {
        let due = first_due + n as u64 * spacing;
        actor
            .stamp(due)
            .send_at(std::time::UNIX_EPOCH + Duration::from_millis(due))
            .await?;
    }
    let last_due = first_due + count as u64 * spacing;
    tokio::time::sleep(Duration::from_millis(
        last_due.saturating_sub(now_millis()) + 500,
    ))
    .await;
    runtime.settle().await;
    let scheduled_units = per_message(before, count);

    let asker = runtime.client::<Clocked>("asker")?;
    let before = units();
    for _ in 0..count {
        asker.ask("echo".into()).send().await?;
        runtime.settle().await;
    }
    // Three messages per ask: `ask`, the question and the reply.
    let ask_units = per_message(before, count * 3);

    let mut scheduled_lags = Vec::with_capacity(count);
    for actor in &scheduled {
        scheduled_lags.extend(actor.lags().query().await?);
    }
    let mut measured = Vec::new();
    for (kind, lags, units) in [
        (
            "immediate send",
            immediate.lags().query().await?,
            immediate_units,
        ),
        ("scheduled send", scheduled_lags, scheduled_units),
        (
            "ask with reply_to (per message of 3)",
            asker.lags().query().await?,
            ask_units,
        ),
    ] {
        ensure(
            lags.len() == count,
            format!("{kind}: {} of {count} ran", lags.len()),
        )?;
        measured.push(Measured { kind, lags, units });
    }
    Ok(measured)
}

/// Handlers see the clock in whole milliseconds.
fn whole_ms(lag: Duration) -> String {
    format!("{} ms", lag.as_millis())
}
