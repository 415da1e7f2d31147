//! Records written past MQLess (by hand, by a client in another language, by an older
//! version) on DynamoDB Local: none wedges an actor or a sweep.

use super::*;

/// Items written past the client (by hand, by a client in another language, by an older
/// version) never wedge an actor or a sweep: a lower-case id (which would run, then
/// never be deleted under its canonical key), a String envelope and a sort key that is
/// no id are moved to the actor's dead letters (kind `Malformed`, the reason named, the
/// item's attributes kept in `raw`), so the actor is not found pending in every sweep; a
/// queued item under a partition key that is not `Type/id` (no actor to attribute it to)
/// is skipped by the sweep. The actor's own messages run as usual, and the drain does
/// not loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_mailbox_items_are_dead_lettered_and_never_loop_a_drain_or_fail_a_sweep() {
    mqless_tests::requires_local_aws!();
    use mqless_examples::counter::Counter;

    let store = local_aws::fresh_store("foreign").await;
    let client = write_foreign_items(&store).await;
    let runtime = runtime_over(&store);
    runtime.register::<Counter>().unwrap();
    let counter = runtime.client::<Counter>("c").unwrap();
    let before = store.capacity();
    assert_eq!(
        counter.increment(1).call().await,
        Ok(1),
        "foreign items are not run"
    );
    runtime.settle().await;
    let used = store.capacity() - before;
    assert!(used.requests < 20, "the drain did not loop: {used:?}");
    let swept = runtime
        .sweep()
        .await
        .expect("a foreign key does not fail the sweep");
    assert!(swept.failed.is_empty(), "{swept:?}");
    assert!(
        swept.pending.is_empty(),
        "nothing left to wake for: {swept:?}"
    );
    assert_eq!(counter.get().call().await, Ok(1));
    let letters = runtime
        .dead_letters::<Counter>("c")
        .unwrap()
        .list()
        .await
        .unwrap();
    assert_eq!(letters.len(), 3, "{letters:?}");
    for letter in &letters {
        assert_eq!(letter.kind, mqless::recovery::DeadLetterKind::Malformed);
        assert!(letter.error.contains("cannot read"), "{}", letter.error);
    }
    let kept = kept_raw_keys(&client, &store).await;
    assert!(kept.contains(&"m#not-an-id".to_owned()), "{kept:?}");
}

/// Writes, past MQLess, four mailbox items it cannot read: a lowercase id, a String
/// envelope, a sort key that is no id, and a partition key that is no address.
async fn write_foreign_items(store: &DynamoStore) -> mqless::aws::aws_sdk_dynamodb::Client {
    use mqless::aws::aws_sdk_dynamodb::primitives::Blob;
    use mqless::aws::aws_sdk_dynamodb::types::AttributeValue;
    use mqless_examples::counter::CounterMessage;

    let envelope =
        mqless_tests::mailbox_item(&CounterMessage::Increment { by: 100 }, false).envelope;
    let id = mqless::MessageId::generate(1_000, None).to_string();
    let sdk = mqless::aws::load_config().await;
    let client = mqless::aws::aws_sdk_dynamodb::Client::new(&sdk);
    for (pk, sk, env) in [
        (
            "Counter/c",
            format!("m#{}", id.to_lowercase()),
            AttributeValue::B(Blob::new(envelope.clone())),
        ),
        (
            "Counter/c",
            format!("m#{id}"),
            AttributeValue::S("not binary".into()),
        ),
        (
            "Counter/c",
            "m#not-an-id".to_owned(),
            AttributeValue::B(Blob::new(envelope.clone())),
        ),
        (
            "no-slash",
            format!("m#{id}"),
            AttributeValue::B(Blob::new(envelope.clone())),
        ),
    ] {
        client
            .put_item()
            .table_name(store.table())
            .item("pk", AttributeValue::S(pk.into()))
            .item("sk", AttributeValue::S(sk))
            .item("env", env)
            .send()
            .await
            .unwrap();
    }
    client
}

/// The sort keys of the raw items kept with `Counter/c`'s dead letters.
async fn kept_raw_keys(
    client: &mqless::aws::aws_sdk_dynamodb::Client,
    store: &DynamoStore,
) -> Vec<String> {
    use mqless::aws::aws_sdk_dynamodb::types::AttributeValue;
    let raw = client
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :d)")
        .expression_attribute_values(":pk", AttributeValue::S("Counter/c".into()))
        .expression_attribute_values(":d", AttributeValue::S("d#".into()))
        .send()
        .await
        .unwrap();
    raw.items()
        .iter()
        .filter_map(|item| {
            item.get("raw")?
                .as_m()
                .ok()?
                .get("sk")?
                .as_s()
                .ok()
                .cloned()
        })
        .collect()
}

/// A `#state` record written past MQLess with no `lease`, or a `lease` that is not a
/// number, would never compare as expired (the actor `Busy` forever): acquire treats it
/// as free and writes a proper one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_record_without_a_numeric_lease_does_not_keep_the_actor_busy() {
    mqless_tests::requires_local_aws!();
    use mqless::aws::aws_sdk_dynamodb::types::AttributeValue;
    use mqless_examples::counter::Counter;

    let store = local_aws::fresh_store("nolease").await;
    let sdk = mqless::aws::load_config().await;
    let client = mqless::aws::aws_sdk_dynamodb::Client::new(&sdk);
    for (id, lease) in [
        ("missing", None),
        ("text", Some(AttributeValue::S("soon".into()))),
    ] {
        let mut put = client
            .put_item()
            .table_name(store.table())
            .item("pk", AttributeValue::S(format!("Counter/{id}")))
            .item("sk", AttributeValue::S("#state".into()))
            .item("ver", AttributeValue::N("0".into()))
            .item("ep", AttributeValue::N("0".into()));
        if let Some(lease) = lease {
            put = put.item("lease", lease);
        }
        put.send().await.unwrap();
    }
    let runtime = runtime_over(&store);
    runtime.register::<Counter>().unwrap();
    for id in ["missing", "text"] {
        let counter = runtime.client::<Counter>(id).unwrap();
        let reply = counter
            .increment(2)
            .timeout(std::time::Duration::from_secs(10))
            .call()
            .await;
        assert_eq!(reply, Ok(2), "{id}: the actor was not kept busy");
    }
}
