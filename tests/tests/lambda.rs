//! The whole AWS path through the real SDK clients: a client's send goes into the
//! mailbox in DynamoDB Local, an Invoke through cargo-lambda's emulator runs the example's
//! actor's function (`examples/src/bin/*-function.rs`), which drains and commits.

use std::sync::Arc;
use std::time::Duration;

use mqless::aws::payload::Invocation;
use mqless::aws::{FunctionNames, LambdaInvoker, Remote};
use mqless::id::{ActorType, Address};
use mqless::store::Store;
use mqless::{ActorId, Actors, AskError, Limits, MessageId};
use mqless_examples::bank::{Account, BankConfig};
use mqless_examples::counter::{Counter, CounterMessage};
use mqless_tests::local_aws;

/// Points clients at the emulator and at the table its handlers use.
async fn remote() -> Remote {
    local_aws::lambda_environment().await.remote()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", MessageId::generate(1, None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_and_asks_go_through_dynamodb_and_the_lambda_handler() {
    mqless_tests::requires_local_aws!();
    let remote = remote().await;
    let id = unique("counter");
    let counter = remote.client::<Counter>(id.clone()).unwrap();
    counter.increment(5).send().await.unwrap();
    assert_eq!(
        counter.increment(1).call().await.unwrap(),
        6,
        "an ask returns the typed reply"
    );
    assert_eq!(counter.get().call().await.unwrap(), 6);

    // The committed state, read straight from the table.
    let address = Address::new(
        ActorType::new("Counter").unwrap(),
        ActorId::new(id).unwrap(),
    );
    let record = remote.store().load_state(&address).await.unwrap().unwrap();
    assert!(
        record.version >= 1 && record.lease_expires_at == 0,
        "committed and released: {record:?}"
    );
    assert!(remote
        .store()
        .read_mailbox(&address, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ask_costs_one_put_one_invoke_and_the_handlers_requests() {
    mqless_tests::requires_local_aws!();
    let remote = remote().await;
    let address = Address::new(
        ActorType::new("Counter").unwrap(),
        ActorId::new(unique("ask")).unwrap(),
    );
    let invoker = LambdaInvoker::new(
        mqless::aws::aws_sdk_lambda::Client::new(&mqless::aws::load_config().await),
        FunctionNames::from_env().unwrap(),
    );
    // The client's side of an ask: one PutItem into the mailbox...
    let message = mqless_tests::mailbox_item(&CounterMessage::Increment { by: 3 }, true);
    let before = remote.store().capacity();
    remote.store().enqueue(&address, &message).await.unwrap();
    let client_requests = (remote.store().capacity() - before).requests;
    // ...then one synchronous Invoke, whose response carries the reply.
    let invocation = Invocation {
        actor_type: None,
        actor: address.id().to_string(),
        reply_to: Some(message.id.to_string()),
        hop: 0,
        send: None,
    };
    let result = invoker
        .invoke(address.actor_type(), &invocation, true)
        .await
        .unwrap()
        .unwrap();
    assert!(
        result.reply.is_some(),
        "the reply comes back in the invoke response: {result:?}"
    );
    assert_eq!(result.processed, 1);
    println!(
        "DynamoDB requests on an ask's path: {} (client) + {} (handler) = {}; handler used {:.0} write and {:.1} read units",
        client_requests,
        result.dynamodb_requests,
        client_requests + result.dynamodb_requests,
        result.write_units,
        result.read_units
    );
    assert_eq!(client_requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_payload_is_refused_with_a_reason() {
    mqless_tests::requires_local_aws!();
    let _ = remote().await;
    let invoker = mqless::aws::Environment::load().await.unwrap().invoker();
    let invocation = Invocation {
        actor_type: None,
        actor: "has/slash".into(),
        reply_to: None,
        hop: 0,
        send: None,
    };
    let error = invoker
        .invoke(&ActorType::new("Counter").unwrap(), &invocation, true)
        .await
        .unwrap_err();
    assert!(error.message.contains("invalid actor id"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bank_conserves_money_through_lambda() {
    mqless_tests::requires_local_aws!();
    let remote = Arc::new(remote().await);
    let config = BankConfig {
        accounts: 4,
        tasks: 4,
        operations_per_task: 8,
        ..BankConfig::default()
    };
    mqless_tests::assert_bank_holds(remote, config).await;
}

#[tokio::test]
async fn asking_an_unknown_function_says_how_to_configure_it() {
    mqless_tests::requires_local_aws!();
    let remote = remote_without_functions("nofn").await;
    let error = remote
        .client::<Account>("a")
        .unwrap()
        .statement()
        .timeout(std::time::Duration::from_millis(500))
        .call()
        .await
        .unwrap_err();
    assert!(
        matches!(error, AskError::Timeout { .. }),
        "the message is queued; the wake-up failed: {error:?}"
    );
}

/// Clients over a fresh table whose actor types have no function (prefix `missing-`).
async fn remote_without_functions(test: &str) -> Remote {
    local_aws::configure();
    std::env::set_var(
        "AWS_ENDPOINT_URL_LAMBDA",
        local_aws::env("MQLESS_TEST_LAMBDA_ENDPOINT"),
    );
    let store = local_aws::fresh_store(test).await;
    let invoker = LambdaInvoker::new(
        mqless::aws::aws_sdk_lambda::Client::new(&mqless::aws::load_config().await),
        FunctionNames::with_prefix("missing-").unwrap(),
    );
    Remote::new(store, invoker, Limits::DEFAULT)
}

/// `settle` on Lambda gives up, naming the actors whose mailboxes still hold messages,
/// when nothing can drain them (here: no such function).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_names_the_actors_it_could_not_wait_for() {
    mqless_tests::requires_local_aws!();
    let remote = remote_without_functions("unsettled")
        .await
        .settle_timeout(std::time::Duration::from_millis(300));
    let stuck = remote.client::<Account>("stuck").unwrap();
    stuck.deposit(5).send().await.unwrap();
    match remote.settle().await {
        Err(mqless::Error::NotSettled { pending, .. }) => {
            assert_eq!(pending, ["Account/stuck"]);
        }
        other => panic!("expected NotSettled: {other:?}"),
    }
}

/// Through Lambda, an actor whose state no longer decodes is quarantined by its
/// function: an ask says so when it times out, and settle names the quarantine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_actor_is_named_by_asks_and_settle() {
    mqless_tests::requires_local_aws!();
    let remote = remote()
        .await
        .settle_timeout(std::time::Duration::from_millis(1500));
    let id = unique("quarantined");
    let address = Address::new(
        ActorType::new("Counter").unwrap(),
        ActorId::new(id.as_str()).unwrap(),
    );
    // A state the deployed `Counter` cannot read, as after a breaking redeploy.
    mqless_tests::quarantine::write_record(remote.store(), &address, &[0xc1], &[0x80]).await;
    let counter = remote.client::<Counter>(id.as_str()).unwrap();
    // Long enough for a cold start under load: the ask reads the quarantine at its end.
    let asked = counter
        .increment(1)
        .timeout(std::time::Duration::from_secs(10))
        .call()
        .await;
    assert!(
        matches!(
            &asked,
            Err(mqless::AskError::Runtime(mqless::Error::Quarantined { .. }))
        ),
        "{asked:?}"
    );
    match remote.settle().await {
        Err(mqless::Error::NotSettled { pending, .. }) => {
            let mine: Vec<_> = pending.iter().filter(|p| p.contains(&id)).collect();
            assert_eq!(mine.len(), 1, "{pending:?}");
            assert!(
                mine[0].contains("quarantined") && mine[0].contains("does not decode"),
                "{pending:?}"
            );
        }
        other => panic!("expected NotSettled: {other:?}"),
    }
    let listed = remote.quarantined::<Counter>().await.unwrap();
    assert!(listed.iter().any(|q| q.id.as_str() == id), "{listed:?}");
}

/// A message scheduled through the deployed path: queued by the client, not run before
/// its time, then delivered by a sweep (what the deployed sweeper runs on its
/// schedule) through the function. Prints how long after its time the sweep found it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_message_is_delivered_by_the_sweep_through_the_function() {
    mqless_tests::requires_local_aws!();
    let remote = remote().await;
    let id = format!("scheduled-{}", mqless::MessageId::generate(1, None));
    let counter = remote.client::<Counter>(id.clone()).unwrap();
    let sent = std::time::Instant::now();
    counter
        .increment(5)
        .send_after(Duration::from_secs(4))
        .await
        .unwrap();
    counter.increment(1).send().await.unwrap();
    remote.settle().await.unwrap();
    assert_eq!(
        counter.get().query().await,
        Ok(1),
        "settled without the scheduled message, which is not due"
    );
    loop {
        remote.sweep().await.unwrap();
        if counter.get().query().await == Ok(6) {
            break;
        }
        assert!(sent.elapsed() < Duration::from_secs(60), "never delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "Lambda: a message scheduled 4 s ahead ran {:?} after its time, sweeping every 100 ms",
        sent.elapsed().saturating_sub(Duration::from_secs(4))
    );
}

/// A trace set on the client reaches the handler on Lambda: the transfer's log line,
/// written by the function inside the message's span, carries the client's trace id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_set_on_the_client_reaches_the_functions_logs() {
    mqless_tests::requires_local_aws!();
    use mqless::trace::{self, TraceParent};
    let remote = remote().await;
    let (from, to) = (unique("traced-from"), unique("traced-to"));
    let account = remote.client::<Account>(from).unwrap();
    account.deposit(10).call().await.unwrap();
    let root = TraceParent::new_root();
    let balance = trace::in_trace(root, async { account.transfer(to, 3).call().await })
        .await
        .unwrap();
    assert_eq!(balance, 7);
    remote.settle().await.unwrap();

    let log = std::fs::read_to_string(local_aws::env("MQLESS_TEST_LAMBDA_LOG")).unwrap();
    let line = log
        .lines()
        .find(|line| line.contains(&root.trace_id()))
        .unwrap_or_else(|| {
            panic!(
                "no log line of the function carries trace {}",
                root.trace_id()
            )
        });
    assert!(line.contains("transfer"), "{line}");
    assert!(
        line.contains(&root.span_id()),
        "the client's span is the parent: {line}"
    );
    println!("{line}");
}
