//! Scenario 8: time at scale. What one sweep costs on DynamoDB Local as idle actors pile
//! up (`#state` records of about 2 KB, one message due), beside the full scan the sweep
//! used to be (now the hourly audit) in the same run; then how long one sweep takes to
//! issue the wake-ups of many actors due at once. Wake-ups go to an in-process invoker
//! that records them: this measures the sweep itself (the Lambda emulator runs one
//! invocation at a time, so it could not show this).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mqless::aws::aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use mqless::aws::aws_sdk_dynamodb::{self, primitives::Blob};
use mqless::aws::dynamodb::{Capacity, DynamoStore};
use mqless::id::Address;
use mqless::recovery::{self, SweepReport};
use mqless::store::{MailboxItem, Store};
use mqless::testing::RecordingInvoker;

use crate::dynamodb::{fresh_store, n, now_millis, s};
use crate::report::{cells, ensure, Table};
use crate::BenchError;

/// The actor type of the idle records and due messages (no handler runs here).
const TYPE: &str = "Idle";

/// One sweep's figures.
struct Swept {
    units: Capacity,
    took: Duration,
    report: SweepReport,
}

/// Runs the sweep (or the audit) once with a recording invoker, metering the store.
async fn measure(store: &DynamoStore, audit: bool) -> Result<Swept, BenchError> {
    let invoker = RecordingInvoker::new();
    let before = store.capacity();
    let started = Instant::now();
    let now = now_millis();
    let report = if audit {
        recovery::audit(store, &invoker, now).await?
    } else {
        recovery::sweep(store, &invoker, now).await?
    };
    let took = started.elapsed();
    ensure(
        invoker.take_nudges().len() == report.nudged,
        "every wake-up the sweep reports reached the invoker",
    )?;
    Ok(Swept {
        units: store.capacity() - before,
        took,
        report,
    })
}

/// Writes idle actors `from..to`: `#state` records of about 2 KB, as committed actors
/// leave them (with their type for the `actors` index), 25 per request.
async fn add_idle_actors(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    from: usize,
    to: usize,
) -> Result<(), BenchError> {
    let state = Blob::new(vec![7u8; 2000]);
    let mut batches = Vec::new();
    for chunk_start in (from..to).step_by(25) {
        let requests: Vec<WriteRequest> = (chunk_start..(chunk_start + 25).min(to))
            .map(|i| {
                let item = HashMap::from([
                    ("pk".to_owned(), s(format!("{TYPE}/a{i:06}"))),
                    ("sk".to_owned(), s("#state")),
                    ("ty".to_owned(), s(TYPE)),
                    ("ver".to_owned(), n(1)),
                    ("ep".to_owned(), n(1)),
                    ("st".to_owned(), AttributeValue::B(state.clone())),
                ]);
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                    .build()
            })
            .collect();
        batches.push(requests);
    }
    // A few requests in flight at once: DynamoDB Local takes them one by one anyway.
    for group in batches.chunks(8) {
        let writes = group.iter().map(|requests| {
            client
                .batch_write_item()
                .request_items(table, requests.clone())
                .send()
        });
        for written in futures_util::future::join_all(writes).await {
            let out = written?;
            ensure(
                out.unprocessed_items().is_none_or(HashMap::is_empty),
                "DynamoDB Local left writes unprocessed",
            )?;
        }
    }
    Ok(())
}

/// Queues, for each of `actors`, one message scheduled a second ago: due now.
async fn queue_due(store: &DynamoStore, actors: &[Address]) -> Result<(), BenchError> {
    let due = now_millis() - 1_000;
    for group in actors.chunks(32) {
        let writes = group.iter().map(|address| {
            let envelope = mqless::wire::Envelope::new(
                mqless::wire::encode(&"tick", "message", 1024).unwrap_or_default(),
                false,
                None,
            )
            .scheduled(due, None)
            .encode(&mqless::Limits::DEFAULT);
            async move {
                let item = MailboxItem {
                    id: mqless::MessageId::generate(due, None),
                    envelope: envelope?,
                };
                store.enqueue(address, &item).await?;
                Ok::<_, BenchError>(())
            }
        });
        for queued in futures_util::future::join_all(writes).await {
            queued?;
        }
    }
    Ok(())
}

fn address(i: usize) -> Address {
    Address::parse(&format!("{TYPE}/a{i:06}")).unwrap_or_else(|_| unreachable!("a valid address"))
}

fn row(actors: usize, what: &str, swept: &Swept) -> Vec<String> {
    cells([
        actors.to_string(),
        what.to_owned(),
        swept.report.pending.len().to_string(),
        format!("{:.1}", swept.units.read_units),
        swept.units.requests.to_string(),
        format!("{:.2} s", swept.took.as_secs_f64()),
    ])
}

/// Sweeps with one message due among `sizes` idle actors (cumulative, on one table),
/// beside the audit's scan, then `due_at_once` actors due together.
///
/// # Errors
/// DynamoDB failures, or a sweep that missed a due actor.
pub async fn sweep(sizes: &[usize], due_at_once: usize) -> Result<Table, BenchError> {
    let store = fresh_store("sweep").await?;
    let config = mqless::aws::load_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let mut rows = Vec::new();
    let mut written = 0;
    for &size in sizes {
        add_idle_actors(&client, store.table(), written, size).await?;
        written = size;
        let target = address(size / 2);
        queue_due(&store, std::slice::from_ref(&target)).await?;
        let swept = measure(&store, false).await?;
        ensure(
            swept.report.pending == [target.clone()],
            "the sweep woke exactly the actor with a message due",
        )?;
        let audited = measure(&store, true).await?;
        ensure(
            audited.report.pending.contains(&target),
            "the audit found the actor with a message due",
        )?;
        rows.push(row(size, "sweep (due index)", &swept));
        rows.push(row(size, "audit (full scan, the old sweep)", &audited));
        // Leave it drained for the next size: delete its message as a drain would.
        for item in store.read_mailbox(&target, 10).await? {
            store.cancel(&target, item.id).await?;
        }
    }
    let due: Vec<Address> = (0..due_at_once).map(address).collect();
    queue_due(&store, &due).await?;
    let swept = measure(&store, false).await?;
    ensure(
        swept.report.pending.len() == due_at_once && swept.report.nudged == due_at_once,
        "one sweep woke every due actor",
    )?;
    rows.push(row(
        written,
        &format!("sweep, {due_at_once} due at once"),
        &swept,
    ));
    Ok(Table {
        title: "Time at scale: one sweep on DynamoDB Local over idle actors of ~2 KB, wake-ups to an in-process invoker (64 in flight); read units as billed (eventually consistent index reads)".to_owned(),
        header: ["actors", "what", "woken", "read units", "requests", "time"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}
