//! Key layout v2 on DynamoDB Local: mailboxes in partitions of their own (`m/Type/id`),
//! where IAM can grant senders a mailbox without the actor's record. What the contract
//! and the fault suite cannot see: where the items physically are, that retiring an
//! actor empties its mailbox partition too, and that a message written in the other
//! layout is not woken for in vain.

use mqless::aws::aws_sdk_dynamodb::types::AttributeValue;
use mqless::aws::aws_sdk_dynamodb::Client;
use mqless::aws::KeyLayout;

use super::*;

/// The sort keys of partition `pk`.
async fn sort_keys(client: &Client, store: &DynamoStore, pk: &str) -> Vec<String> {
    let out = client
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .filter_map(|item| item.get("sk")?.as_s().ok().cloned())
        .collect()
}

async fn raw_client() -> Client {
    Client::new(&mqless::aws::load_config().await)
}

/// Messages, sends between actors, a scheduled message and a dead letter's redrive, all
/// in v2: the messages wait in `m/Type/id`, never in the actor's partition, which holds
/// only its record (and dead letters), and the actors answer as in v1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailboxes_apart_keep_messages_out_of_the_actors_partition() {
    mqless_tests::requires_local_aws!();
    use mqless_examples::counter::Counter;
    let store = local_aws::fresh_store_in("layout-v2", KeyLayout::V2).await;
    let client = raw_client().await;
    let runtime = runtime_over(&store);
    runtime.register::<Counter>().unwrap();
    let address = Address::parse("Counter/c").unwrap();
    // Queued without a drain: where does it wait?
    store
        .enqueue(
            &address,
            &mqless_tests::mailbox_item(
                &mqless_examples::counter::CounterMessage::Increment { by: 2 },
                false,
            ),
        )
        .await
        .unwrap();
    let waiting = sort_keys(&client, &store, "m/Counter/c").await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(waiting[0].starts_with("m#"), "{waiting:?}");
    assert!(sort_keys(&client, &store, "Counter/c").await.is_empty());

    let counter = runtime.client::<Counter>("c").unwrap();
    assert_eq!(
        counter.increment(3).call().await,
        Ok(5),
        "the queued 2, then 3"
    );
    runtime.settle().await;
    assert!(
        sort_keys(&client, &store, "m/Counter/c").await.is_empty(),
        "consumed messages are deleted from the mailbox's partition"
    );
    let own = sort_keys(&client, &store, "Counter/c").await;
    assert!(own.iter().all(|sk| !sk.starts_with("m#")), "{own:?}");
    assert!(own.contains(&"#state".to_owned()), "{own:?}");
    assert_eq!(
        store.pending_actors(u64::MAX / 2).await.unwrap(),
        Vec::<Address>::new(),
        "the audit finds nothing left"
    );
}

/// Retiring an actor (`delete_actor`) deletes what waits in its mailbox partition too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_an_actor_empties_its_mailbox_partition() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store_in("layout-retire", KeyLayout::V2).await;
    let client = raw_client().await;
    let address = Address::parse("Counter/gone").unwrap();
    let message = mqless_tests::mailbox_item(
        &mqless_examples::counter::CounterMessage::Increment { by: 1 },
        false,
    );
    store.enqueue(&address, &message).await.unwrap();
    assert_eq!(
        store.pending_actors(u64::MAX / 2).await.unwrap(),
        vec![address.clone()],
        "the audit attributes a v2 mailbox to its actor"
    );
    assert_eq!(
        store.delete_actor(&address, 1).await.unwrap(),
        mqless::recovery::Retired::Done
    );
    assert!(sort_keys(&client, &store, "m/Counter/gone")
        .await
        .is_empty());
}

/// A process that writes the table in the other layout queues where no drain reads:
/// the audit logs it as an error naming `MQLESS_KEY_LAYOUT` and does not wake the actor
/// for it in every sweep (its drains would never find it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_in_the_other_layout_is_not_woken_for_in_vain() {
    mqless_tests::requires_local_aws!();
    let message = mqless_tests::mailbox_item(
        &mqless_examples::counter::CounterMessage::Increment { by: 1 },
        false,
    );
    let address = Address::parse("Counter/astray").unwrap();
    for (layout, other) in [
        (KeyLayout::V2, KeyLayout::V1),
        (KeyLayout::V1, KeyLayout::V2),
    ] {
        let store = local_aws::fresh_store_in("layout-astray", layout).await;
        let writer = store.clone().with_key_layout(other);
        writer.enqueue(&address, &message).await.unwrap();
        assert!(
            store.read_mailbox(&address, 10).await.unwrap().is_empty(),
            "{layout} reads no {other} mailbox"
        );
        assert_eq!(
            store.pending_actors(u64::MAX / 2).await.unwrap(),
            Vec::<Address>::new(),
            "the {layout} audit wakes no actor for a {other} message"
        );
        assert_eq!(
            writer.pending_actors(u64::MAX / 2).await.unwrap(),
            vec![address.clone()],
            "the {other} audit does"
        );
    }
}
