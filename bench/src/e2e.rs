//! Scenario 4: asks through the Lambda emulator.

use std::time::Instant;

use mqless::aws::payload::Invocation;
use mqless::aws::Environment;
use mqless::id::{ActorType, Address};
use mqless::store::Store;
use mqless::Actors;
use mqless_examples::counter::Counter;

use crate::report::{cells, ensure, ms, percentiles, Table};
use crate::BenchError;

/// Scenario 4: asks through the Lambda emulator: round trip percentiles and DynamoDB
/// requests per ask (the client's, plus the handler's as it reports them).
///
/// # Errors
/// Configuration, invoke or DynamoDB failures, or a failed correctness check.
pub async fn end_to_end(asks: usize) -> Result<Table, BenchError> {
    let environment = Environment::load().await?;
    let remote = environment.remote();
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
    let invoker = environment.invoker();
    let address = Address::new(
        ActorType::new("Counter")?,
        mqless::ActorId::new(id.as_str())?,
    );
    let body =
        rmp_serde::to_vec_named(&mqless_examples::counter::CounterMessage::Increment { by: 0 })?;
    let envelope = mqless::wire::Envelope {
        body,
        ask: true,
        key: None,
    }
    .encode(&mqless::Limits::DEFAULT)?;
    let probe = mqless::store::MailboxItem {
        id: mqless::MessageId::generate(crate::dynamodb::now_millis(), None),
        envelope,
    };
    remote.store().enqueue(&address, &probe).await?;
    let invocation = Invocation {
        actor_type: None,
        actor: id,
        reply_to: Some(probe.id.to_string()),
        hop: 0,
    };
    let handler = invoker
        .invoke(&ActorType::new("Counter")?, &invocation, true)
        .await?
        .ok_or("no result")?;
    let p = percentiles(latencies);
    Ok(Table {
        title: format!("End to end: {asks} sequential asks, client -> DynamoDB Local -> Lambda emulator -> handler"),
        header: ["ask p50", "ask p99", "DynamoDB requests/ask (client)", "DynamoDB requests/ask (handler)"].map(String::from).to_vec(),
        rows: vec![cells([ms(p.p50), ms(p.p99), format!("{client_requests:.1}"), handler.dynamodb_requests.to_string()])],
    })
}
