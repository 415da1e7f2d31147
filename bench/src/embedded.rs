//! Scenario 3: the embedded runtime beside kameo, in process.

use std::sync::Arc;
use std::time::Instant;

use mqless::Embedded;
use mqless_examples::counter::Counter;

use crate::report::{cells, ensure, ms, percentiles, Table};
use crate::BenchError;

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
    let per_sender = tells / senders.max(1);
    let mut table = Table {
        title: format!("Embedded runtime: {senders} senders x {per_sender} tells to one actor, then {asks} sequential asks"),
        header: ["runtime", "tells/s", "ask p50", "ask p99"].map(String::from).to_vec(),
        rows: Vec::new(),
    };
    let (mqless_rate, row) = run_mqless(senders, per_sender, asks).await?;
    table.rows.push(row);
    let (kameo_rate, row) = run_kameo(senders, per_sender, asks).await?;
    table.rows.push(row);
    table.title.push_str(&format!(
        "; MQLess/kameo tell throughput = {:.2}x (target: at least 0.8x)",
        mqless_rate / kameo_rate
    ));
    Ok(table)
}

/// MQLess's embedded runtime: `senders` tasks of `per_sender` tells, then `asks`
/// sequential asks; the tell rate and the row.
async fn run_mqless(
    senders: usize,
    per_sender: usize,
    asks: usize,
) -> Result<(f64, Vec<String>), BenchError> {
    let total = (per_sender * senders) as i64;
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
    runtime.settle().await;
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
    let rate = total as f64 / elapsed.as_secs_f64();
    let row = cells([
        "MQLess (in-memory store)".into(),
        format!("{rate:.0}"),
        ms(p.p50),
        ms(p.p99),
    ]);
    Ok((rate, row))
}

/// The same workload on kameo, the baseline: the tell rate and the row.
async fn run_kameo(
    senders: usize,
    per_sender: usize,
    asks: usize,
) -> Result<(f64, Vec<String>), BenchError> {
    use kameo::actor::Spawn;
    let total = (per_sender * senders) as i64;
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
    let rate = total as f64 / elapsed.as_secs_f64();
    let row = cells(["kameo".into(), format!("{rate:.0}"), ms(p.p50), ms(p.p99)]);
    Ok((rate, row))
}
