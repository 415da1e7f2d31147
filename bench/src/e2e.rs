//! Scenario 4: asks through the Lambda emulator, and the same function code driven in
//! process with each drain setting, to count DynamoDB requests per ask.

use std::time::Instant;

use mqless::aws::payload::{Invocation, InvocationResult};
use mqless::aws::{ActorFunction, Environment};
use mqless::id::{ActorType, Address};
use mqless::mailbox::DrainConfig;
use mqless::store::{MailboxItem, Store};
use mqless::Actors;
use mqless_examples::counter::{Counter, CounterMessage};

use crate::report::{at_most, cells, ensure, ms, percentiles, Table};
use crate::BenchError;

/// Scenario 4: asks through the Lambda emulator (round trip percentiles, DynamoDB
/// requests per ask: the client's, plus the handler's as it reports them), beside the
/// same function driven in process with the lease and with optimistic drains.
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
    let address = Address::new(
        ActorType::new("Counter")?,
        mqless::ActorId::new(id.as_str())?,
    );
    let probe = ask_item(0)?;
    remote.store().enqueue(&address, &probe).await?;
    let handler = environment
        .invoker()
        .invoke(
            &ActorType::new("Counter")?,
            &ask_invocation(&id, &probe),
            true,
        )
        .await?
        .ok_or("no result")?;
    let p = percentiles(latencies);
    let mut rows = vec![cells([
        "Lambda emulator, lease".into(),
        ms(p.p50),
        ms(p.p99),
        format!("{client_requests:.1}"),
        format!("{:.1}", handler.dynamodb_requests as f64),
        at_most(5.0, client_requests + handler.dynamodb_requests as f64),
    ])];
    for (design, optimistic) in [
        ("function in process, lease", false),
        ("function in process, optimistic", true),
    ] {
        rows.push(in_process(&environment, asks, design, optimistic).await?);
    }
    Ok(Table {
        title: format!("End to end: {asks} sequential asks, client -> DynamoDB Local -> function (through the Lambda emulator, or the same function code called in process)"),
        header: ["path", "ask p50", "ask p99", "DynamoDB requests/ask (client)", "DynamoDB requests/ask (handler)", "target (client + handler)"].map(String::from).to_vec(),
        rows,
    })
}

/// `asks` asks to a fresh counter, each enqueued by the client and answered by the
/// function `ActorFunction::handle` in this process: the row of `design`.
async fn in_process(
    environment: &Environment,
    asks: usize,
    design: &str,
    optimistic: bool,
) -> Result<Vec<String>, BenchError> {
    let config = DrainConfig {
        optimistic,
        ..DrainConfig::default()
    };
    let function = ActorFunction::<Counter>::new(environment, config)?;
    let store = environment.store();
    let id = format!("e2e-{}", mqless::MessageId::generate(1, None));
    let address = Address::new(
        ActorType::new("Counter")?,
        mqless::ActorId::new(id.as_str())?,
    );
    let (mut latencies, mut handler_requests) = (Vec::with_capacity(asks), 0);
    for i in 0..=asks {
        let t = Instant::now();
        let probe = ask_item(1)?;
        store.enqueue(&address, &probe).await?;
        let payload = serde_json::to_value(ask_invocation(&id, &probe))?;
        let deadline = crate::dynamodb::now_millis() + 60_000;
        let answer: InvocationResult =
            serde_json::from_value(function.handle(&payload, deadline).await?)?;
        ensure(answer.reply.is_some(), "the reply comes back in the answer")?;
        // The first ask creates the actor, which always takes the lease.
        if i > 0 {
            latencies.push(t.elapsed());
            handler_requests += answer.dynamodb_requests;
        }
    }
    let p = percentiles(latencies);
    let handler = handler_requests as f64 / asks.max(1) as f64;
    // The client's one request per ask: the enqueue. docs/design.md: at most 4 requests
    // an ask optimistic, 5 with the lease.
    Ok(cells([
        design.into(),
        ms(p.p50),
        ms(p.p99),
        "1.0".into(),
        format!("{handler:.1}"),
        at_most(if optimistic { 4.0 } else { 5.0 }, 1.0 + handler),
    ]))
}

/// An ask to `increment(by)`, as a client enqueues it.
fn ask_item(by: i64) -> Result<MailboxItem, BenchError> {
    let body = rmp_serde::to_vec_named(&CounterMessage::Increment { by })?;
    let envelope =
        mqless::wire::Envelope::new(body, true, None).encode(&mqless::Limits::DEFAULT)?;
    Ok(MailboxItem {
        id: mqless::MessageId::generate(crate::dynamodb::now_millis(), None),
        envelope,
    })
}

fn ask_invocation(id: &str, probe: &MailboxItem) -> Invocation {
    Invocation {
        actor_type: None,
        actor: id.to_owned(),
        reply_to: Some(probe.id.to_string()),
        hop: 0,
        send: None,
    }
}
