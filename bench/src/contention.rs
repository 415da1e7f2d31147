//! Scenario 2: many writers on one entity, beside optimistic read-modify-write.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mqless::aws::aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use mqless::Embedded;
use mqless_examples::counter::Counter;

use crate::dynamodb::{fresh_store, key, n, units_of, Units};
use crate::report::{cells, ensure, ms, percentiles, Table};
use crate::BenchError;

/// Scenario 2: `writers` concurrent writers, `updates` increments each, on one entity:
/// an MQLess actor (asks, handlers in process over DynamoDB) beside optimistic
/// read-modify-write with a conditional write and retry (unless `baseline` is false:
/// then its row says it was not measured).
///
/// # Errors
/// DynamoDB failures, or a failed correctness check.
pub async fn contention(
    writers: usize,
    updates: usize,
    baseline: bool,
) -> Result<Table, BenchError> {
    let total = (writers * updates) as u64;
    let mut table = Table {
        title: format!(
            "Contention: {writers} writers x {updates} increments on one entity (DynamoDB Local); target (docs/design.md): an actor at least 10x better than optimistic read-modify-write in units per update and in updates/s"
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

    let name = "optimistic read-modify-write (latency: until applied)";
    if !baseline {
        let mut row = vec!["-".to_owned(); table.header.len()];
        row[0] = format!("{name}: not measured (--no-baseline)");
        table.rows.push(row);
        return Ok(table);
    }
    // Optimistic read-modify-write.
    let client = mqless::aws::aws_sdk_dynamodb::Client::new(&mqless::aws::load_config().await);
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
        name.into(),
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
    runtime.settle().await;
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
    client: &mqless::aws::aws_sdk_dynamodb::Client,
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
