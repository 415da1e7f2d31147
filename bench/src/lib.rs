//! Benchmark scenarios: each checks the final state first, then reports MQLess beside the
//! baseline measured in the same run. `src/main.rs` is the command line; `tests/smoke.rs`
//! runs every scenario at tiny sizes so they cannot rot.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqless::aws::aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnConsumedCapacity, TransactWriteItem,
};
use mqless::aws::{aws_sdk_dynamodb, DynamoStore, Invocation, LambdaInvoker, Remote};
use mqless::{Actors, Embedded, RecordingInvoker};
use mqless_examples::counter::Counter;
use serde::{Deserialize, Serialize};

/// Any error of a scenario.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// On-demand prices in us-east-1, dollars per million.
pub const PRICE_WRITE_UNITS: f64 = 0.625;
/// Dollars per million read units.
pub const PRICE_READ_UNITS: f64 = 0.125;
/// Dollars per million Lambda requests.
pub const PRICE_LAMBDA_REQUESTS: f64 = 0.20;

/// A printable table.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// What the table measures.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "\n{}\n", self.title)?;
        writeln!(f, "| {} |", self.header.join(" | "))?;
        writeln!(
            f,
            "|{}|",
            self.header
                .iter()
                .map(|_| "---")
                .collect::<Vec<_>>()
                .join("|")
        )?;
        for row in &self.rows {
            writeln!(f, "| {} |", row.join(" | "))?;
        }
        Ok(())
    }
}

fn cells<const N: usize>(values: [String; N]) -> Vec<String> {
    values.to_vec()
}

/// Latency percentiles.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

fn percentiles(mut samples: Vec<Duration>) -> Percentiles {
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn ensure(condition: bool, what: impl Into<String>) -> Result<(), BenchError> {
    if condition {
        Ok(())
    } else {
        Err(format!("correctness check failed: {}", what.into()).into())
    }
}

/// Capacity consumed by raw SDK calls of a baseline.
#[derive(Debug, Default, Clone, Copy)]
struct Units {
    read: f64,
    write: f64,
    requests: u64,
}

fn units_of(consumed: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) -> f64 {
    consumed
        .and_then(aws_sdk_dynamodb::types::ConsumedCapacity::capacity_units)
        .unwrap_or(0.0)
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A ~1 KB note keeps the state near 1 KB.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Notebook {
    count: u64,
    last: String,
    padding: String,
}

#[mqless::actor]
impl Notebook {
    /// Records a note.
    pub fn note(&mut self, text: String) {
        self.count += 1;
        self.last = text.chars().take(16).collect();
        if self.padding.is_empty() {
            self.padding = "s".repeat(900);
        }
    }

    /// Notes recorded.
    pub fn count(&self) -> u64 {
        self.count
    }
}

fn fresh_table(name: &str) -> String {
    format!("bench-{name}-{}", mqless::MessageId::generate(1, None))
}

async fn fresh_store(name: &str) -> Result<DynamoStore, BenchError> {
    let store = DynamoStore::from_env(fresh_table(name)).await;
    store.create_table().await?;
    Ok(store)
}

/// One row of the cost scenario: per-message figures at one batch size.
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    /// Messages queued per drain.
    pub per_drain: usize,
    /// `MQLess` or the baseline.
    pub design: &'static str,
    /// Write units per message, as DynamoDB reported them.
    pub write_units: f64,
    /// Read units per message.
    pub read_units: f64,
    /// DynamoDB requests per message.
    pub requests: f64,
    /// Lambda requests per message (one invocation drains the batch).
    pub lambda_requests: f64,
}

impl CostRow {
    /// Dollars per million messages at us-east-1 on-demand prices.
    #[must_use]
    pub fn dollars_per_million(&self) -> f64 {
        price(self.write_units, self.read_units, self.lambda_requests)
    }
}

/// [`measure_cost`] as a printable table.
///
/// # Errors
/// As [`measure_cost`].
pub async fn cost(sizes: &[usize]) -> Result<Table, BenchError> {
    let rows = measure_cost(sizes).await?;
    Ok(Table {
        title: "Cost: DynamoDB units per message (~1 KB messages, ~1 KB state), whole protocol, as ConsumedCapacity reports them. \
                Note: DynamoDB Local reports transactional writes at the standard rate; AWS bills them at twice that, \
                so the baseline's transaction (2 items) costs 2 more write units per message on AWS"
            .into(),
        header: ["per drain", "design", "write units/msg", "read units/msg", "requests/msg", "$ per million msgs"]
            .map(String::from)
            .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                cells([
                    r.per_drain.to_string(),
                    r.design.into(),
                    format!("{:.2}", r.write_units),
                    format!("{:.2}", r.read_units),
                    format!("{:.2}", r.requests),
                    format!("{:.2}", r.dollars_per_million()),
                ])
            })
            .collect(),
    })
}

/// Scenario 1: DynamoDB request units per message over the whole protocol, for `sizes`
/// messages queued per drain, beside one transaction per message.
///
/// # Errors
/// DynamoDB failures, or a failed correctness check.
pub async fn measure_cost(sizes: &[usize]) -> Result<Vec<CostRow>, BenchError> {
    let store = fresh_store("cost").await?;
    let runtime = Embedded::builder()
        .store(Arc::new(store.clone()))
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Notebook>()?;
    let host = runtime.host::<Notebook>()?;
    let client = aws_sdk_dynamodb::Client::new(&mqless::aws::load_config().await);
    let text = "m".repeat(900);
    let mut rows = Vec::new();
    for &queued in sizes {
        // MQLess: queue `queued` tells, then one drain.
        let id = format!("notebook-{queued}");
        let notebook = runtime.client::<Notebook>(id.clone())?;
        notebook.note(text.clone()).send().await?;
        host.drain(&mqless::ActorId::new(id.as_str())?).await?; // warm: state ~1 KB
        let before = store.capacity();
        for _ in 0..queued {
            notebook.note(text.clone()).send().await?;
        }
        let report = host.drain(&mqless::ActorId::new(id.as_str())?).await?;
        let used = store.capacity() - before;
        ensure(
            report.processed == queued,
            format!("drained {} of {queued}", report.processed),
        )?;
        let state = runtime.state::<Notebook>(id).await?.ok_or("no state")?;
        ensure(state.count == queued as u64 + 1, "every note applied once")?;
        let n = queued as f64;
        let lambda_per_message = 1.0 / n; // one invocation drains the batch
        rows.push(CostRow {
            per_drain: queued,
            design: "MQLess",
            write_units: used.write_units / n,
            read_units: used.read_units / n,
            requests: used.requests as f64 / n,
            lambda_requests: lambda_per_message,
        });

        // Baseline: each message enqueued, then applied by its own transaction (state
        // update conditioned on version + message delete), after a consistent read.
        let units = transaction_per_message(&client, store.table(), queued, &text).await?;
        rows.push(CostRow {
            per_drain: queued,
            design: "one transaction per message",
            write_units: units.write / n,
            read_units: units.read / n,
            requests: units.requests as f64 / n,
            lambda_requests: lambda_per_message,
        });
    }
    Ok(rows)
}

fn price(write_units: f64, read_units: f64, lambda_requests: f64) -> f64 {
    write_units * PRICE_WRITE_UNITS
        + read_units * PRICE_READ_UNITS
        + lambda_requests * PRICE_LAMBDA_REQUESTS
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

async fn transaction_per_message(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    queued: usize,
    text: &str,
) -> Result<Units, BenchError> {
    let pk = format!("naive/{queued}");
    let padding = "s".repeat(900);
    let mut units = Units::default();
    let mut version = 0u64;
    for i in 0..queued {
        let mut message = key(&pk, &format!("m#{i:08}"));
        message.insert("body".into(), s(text));
        let out = client
            .put_item()
            .table_name(table)
            .set_item(Some(message))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await?;
        units.write += units_of(out.consumed_capacity());
        units.requests += 1;
    }
    for i in 0..queued {
        let out = client
            .get_item()
            .table_name(table)
            .set_key(Some(key(&pk, "#state")))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await?;
        units.read += units_of(out.consumed_capacity());
        units.requests += 1;
        let mut state = key(&pk, "#state");
        state.insert("ver".into(), n(version + 1));
        state.insert("count".into(), n(i as u64 + 1));
        state.insert("padding".into(), s(padding.clone()));
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(state))
            .condition_expression("attribute_not_exists(pk) OR ver = :v")
            .expression_attribute_values(":v", n(version))
            .build()?;
        let delete = Delete::builder()
            .table_name(table)
            .set_key(Some(key(&pk, &format!("m#{i:08}"))))
            .build()?;
        let out = client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await?;
        units.write += out
            .consumed_capacity()
            .iter()
            .filter_map(|c| c.capacity_units())
            .sum::<f64>();
        units.requests += 1;
        version += 1;
    }
    Ok(units)
}

/// Scenario 2: `writers` concurrent writers, `updates` increments each, on one entity:
/// an MQLess actor (asks, handlers in process over DynamoDB) beside optimistic
/// read-modify-write with a conditional write and retry.
///
/// # Errors
/// DynamoDB failures, or a failed correctness check.
pub async fn contention(writers: usize, updates: usize) -> Result<Table, BenchError> {
    let total = (writers * updates) as u64;
    let mut table = Table {
        title: format!(
            "Contention: {writers} writers x {updates} increments on one entity (DynamoDB Local)"
        ),
        header: [
            "design",
            "updates/s",
            "units/update",
            "failed writes",
            "p50",
            "p99",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };

    table
        .rows
        .push(mqless_contention(writers, updates, Delivery::Ask).await?);
    table
        .rows
        .push(mqless_contention(writers, updates, Delivery::Tell).await?);

    // Optimistic read-modify-write.
    let client = aws_sdk_dynamodb::Client::new(&mqless::aws::load_config().await);
    let occ_table = fresh_store("contention-occ").await?.table().to_owned();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (client, occ_table) = (client.clone(), occ_table.clone());
        tasks.push(tokio::spawn(async move {
            occ_writer(&client, &occ_table, updates).await
        }));
    }
    let (mut latencies, mut units, mut failed) = (Vec::new(), Units::default(), 0u64);
    for task in tasks {
        let (l, u, f) = task.await??;
        latencies.extend(l);
        units.read += u.read;
        units.write += u.write;
        failed += f;
    }
    let elapsed = started.elapsed();
    let out = client
        .get_item()
        .table_name(&occ_table)
        .set_key(Some(key("occ", "counter")))
        .consistent_read(true)
        .send()
        .await?;
    let value: u64 = out
        .item()
        .and_then(|i| i.get("value"))
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    ensure(
        value == total,
        format!("optimistic counter is {value}, expected {total}"),
    )?;
    let p = percentiles(latencies);
    table.rows.push(cells([
        "optimistic read-modify-write (latency: until applied)".into(),
        format!("{:.0}", total as f64 / elapsed.as_secs_f64()),
        format!("{:.2}", (units.write + units.read) / total as f64),
        failed.to_string(),
        ms(p.p50),
        ms(p.p99),
    ]));
    Ok(table)
}

/// How the contention writers send their increments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// `.call()`: latency until the increment is applied.
    Ask,
    /// `.send()`: latency until the increment is durable; the run ends once all are applied.
    Tell,
}

async fn mqless_contention(
    writers: usize,
    updates: usize,
    delivery: Delivery,
) -> Result<Vec<String>, BenchError> {
    let total = (writers * updates) as u64;
    let store = fresh_store("contention").await?;
    let runtime = Arc::new(Embedded::builder().store(Arc::new(store.clone())).build());
    runtime.register::<Counter>()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let runtime = runtime.clone();
        tasks.push(tokio::spawn(async move {
            let counter = runtime.client::<Counter>("hot")?;
            let mut latencies = Vec::with_capacity(updates);
            for _ in 0..updates {
                let t = Instant::now();
                match delivery {
                    Delivery::Ask => drop(counter.increment(1).call().await?),
                    Delivery::Tell => drop(counter.increment(1).send().await?),
                }
                latencies.push(t.elapsed());
            }
            Ok::<_, BenchError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    runtime.idle().await;
    let elapsed = started.elapsed();
    let used = store.capacity();
    let value = runtime.client::<Counter>("hot")?.get().call().await?;
    ensure(
        value == total as i64,
        format!("MQLess ({delivery:?}) counter is {value}, expected {total}"),
    )?;
    let p = percentiles(latencies);
    let design = match delivery {
        Delivery::Ask => "MQLess actor, ask (latency: until applied)",
        Delivery::Tell => "MQLess actor, tell (latency: until durable)",
    };
    Ok(cells([
        design.into(),
        format!("{:.0}", total as f64 / elapsed.as_secs_f64()),
        format!("{:.2}", (used.write_units + used.read_units) / total as f64),
        "0".into(),
        ms(p.p50),
        ms(p.p99),
    ]))
}

async fn occ_writer(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    updates: usize,
) -> Result<(Vec<Duration>, Units, u64), BenchError> {
    let (mut latencies, mut units, mut failed) =
        (Vec::with_capacity(updates), Units::default(), 0u64);
    for _ in 0..updates {
        let t = Instant::now();
        loop {
            let out = client
                .get_item()
                .table_name(table)
                .set_key(Some(key("occ", "counter")))
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await?;
            units.read += units_of(out.consumed_capacity());
            let get = |name: &str| {
                out.item()
                    .and_then(|i| i.get(name))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let (version, value) = (get("ver"), get("value"));
            let mut item = key("occ", "counter");
            item.insert("ver".into(), n(version + 1));
            item.insert("value".into(), n(value + 1));
            let put = client
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR ver = :v")
                .expression_attribute_values(":v", n(version))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            match put {
                Ok(out) => {
                    units.write += units_of(out.consumed_capacity());
                    break;
                }
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    // A failed conditional write is billed like a successful one.
                    units.write += 1.0;
                    failed += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
        latencies.push(t.elapsed());
    }
    Ok((latencies, units, failed))
}

/// A kameo counter, the in-process baseline.
#[derive(kameo::Actor, Default)]
pub struct KameoCounter {
    value: i64,
}

/// Increments a [`KameoCounter`].
pub struct Increment(pub i64);
/// Reads a [`KameoCounter`].
pub struct Get;

impl kameo::message::Message<Increment> for KameoCounter {
    type Reply = i64;
    async fn handle(
        &mut self,
        msg: Increment,
        _: &mut kameo::message::Context<Self, Self::Reply>,
    ) -> i64 {
        self.value += msg.0;
        self.value
    }
}

impl kameo::message::Message<Get> for KameoCounter {
    type Reply = i64;
    async fn handle(&mut self, _: Get, _: &mut kameo::message::Context<Self, Self::Reply>) -> i64 {
        self.value
    }
}

/// Scenario 3: the embedded runtime's tell throughput and ask latency beside kameo, in
/// process, with MessagePack on.
///
/// # Errors
/// A failed correctness check.
pub async fn embedded(senders: usize, tells: usize, asks: usize) -> Result<Table, BenchError> {
    use kameo::actor::Spawn;
    let per_sender = tells / senders.max(1);
    let total = (per_sender * senders) as i64;
    let mut table = Table {
        title: format!("Embedded runtime: {senders} senders x {per_sender} tells to one actor, then {asks} sequential asks"),
        header: ["runtime", "tells/s", "ask p50", "ask p99"].map(String::from).to_vec(),
        rows: Vec::new(),
    };

    let runtime = Arc::new(Embedded::new());
    runtime.register::<Counter>()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let runtime = runtime.clone();
        tasks.push(tokio::spawn(async move {
            let counter = runtime.client::<Counter>("c")?;
            for _ in 0..per_sender {
                counter.increment(1).send().await?;
            }
            Ok::<_, BenchError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    runtime.idle().await;
    let elapsed = started.elapsed();
    let counter = runtime.client::<Counter>("c")?;
    ensure(
        counter.get().call().await? == total,
        "MQLess applied every tell",
    )?;
    let mut latencies = Vec::with_capacity(asks);
    for _ in 0..asks {
        let t = Instant::now();
        counter.increment(0).call().await?;
        latencies.push(t.elapsed());
    }
    let p = percentiles(latencies);
    let mqless_rate = total as f64 / elapsed.as_secs_f64();
    table.rows.push(cells([
        "MQLess (in-memory store)".into(),
        format!("{mqless_rate:.0}"),
        ms(p.p50),
        ms(p.p99),
    ]));

    let actor = KameoCounter::spawn(KameoCounter::default());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let actor = actor.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_sender {
                actor.tell(Increment(1)).await.map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    // The mailbox is FIFO: this ask returns after every tell.
    let value = actor.ask(Get).await.map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    ensure(value == total, "kameo applied every tell")?;
    let mut latencies = Vec::with_capacity(asks);
    for _ in 0..asks {
        let t = Instant::now();
        actor.ask(Increment(0)).await.map_err(|e| e.to_string())?;
        latencies.push(t.elapsed());
    }
    let p = percentiles(latencies);
    let kameo_rate = total as f64 / elapsed.as_secs_f64();
    table.rows.push(cells([
        "kameo".into(),
        format!("{kameo_rate:.0}"),
        ms(p.p50),
        ms(p.p99),
    ]));
    table.title.push_str(&format!(
        "; MQLess/kameo tell throughput = {:.2}x (target >= 0.5x)",
        mqless_rate / kameo_rate
    ));
    Ok(table)
}

/// Scenario 4: asks through the Lambda emulator: round trip percentiles and DynamoDB
/// requests per ask (the client's, plus the handler's as it reports them).
///
/// # Errors
/// Configuration, invoke or DynamoDB failures, or a failed correctness check.
pub async fn end_to_end(asks: usize) -> Result<Table, BenchError> {
    let remote = Remote::from_env().await?;
    remote.store().create_table().await?;
    let id = format!("e2e-{}", mqless::MessageId::generate(1, None));
    let counter = remote.client::<Counter>(id.clone())?;
    let mut latencies = Vec::with_capacity(asks);
    let before = remote.store().capacity();
    for i in 0..asks {
        let t = Instant::now();
        let value = counter.increment(1).call().await?;
        latencies.push(t.elapsed());
        ensure(
            value == i as i64 + 1,
            "each ask sees the previous ones applied",
        )?;
    }
    let client_requests = (remote.store().capacity() - before).requests as f64 / asks.max(1) as f64;
    ensure(
        counter.get().call().await? == asks as i64,
        "every ask applied once",
    )?;

    // One ask driven by hand, to read the handler's own DynamoDB requests: enqueued
    // straight into the mailbox (a `send` would already drain it, as the emulator runs
    // `Event` invokes synchronously), then one synchronous invoke.
    let invoker = LambdaInvoker::from_env().await?;
    let address = mqless::Address::new(
        mqless::ActorType::new("Counter")?,
        mqless::ActorId::new(id.as_str())?,
    );
    let body =
        rmp_serde::to_vec_named(&mqless_examples::counter::CounterMessage::Increment { by: 0 })?;
    let envelope = mqless::mailbox::Envelope {
        body,
        ask: true,
        key: None,
    }
    .encode(&mqless::Limits::DEFAULT)?;
    let probe = mqless::store::MailboxItem {
        id: mqless::MessageId::generate(now_millis(), None),
        envelope,
    };
    mqless::Store::enqueue(remote.store(), &address, &probe).await?;
    let invocation = Invocation {
        actor: id,
        reply_to: Some(probe.id.to_string()),
        hop: 0,
    };
    let handler = invoker
        .invoke(&mqless::ActorType::new("Counter")?, &invocation, true)
        .await?
        .ok_or("no result")?;
    let p = percentiles(latencies);
    Ok(Table {
        title: format!("End to end: {asks} sequential asks, client -> DynamoDB Local -> Lambda emulator -> handler"),
        header: ["ask p50", "ask p99", "DynamoDB requests/ask (client)", "DynamoDB requests/ask (handler)"].map(String::from).to_vec(),
        rows: vec![cells([ms(p.p50), ms(p.p99), format!("{client_requests:.1}"), handler.dynamodb_requests.to_string()])],
    })
}
