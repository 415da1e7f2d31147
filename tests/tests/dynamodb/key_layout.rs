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

/// In v2 the reply to a client's ask that names its asker (and that nobody in the
/// drain's process waits for) is kept in `r/Type/id/<asker>`, which IAM lets only that
/// asker read: not in the actor's partition, and not under another asker's key. In v1
/// the same ask's reply is in the actor's partition, as always.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_to_clients_are_kept_where_only_their_asker_reads() {
    mqless_tests::requires_local_aws!();
    use mqless_examples::counter::{Counter, CounterMessage};
    let client = raw_client().await;
    let address = Address::parse("Counter/asked").unwrap();
    for layout in [KeyLayout::V2, KeyLayout::V1] {
        let store = local_aws::fresh_store_in("layout-replies", layout).await;
        let mut ask = mqless_tests::mailbox_item(&CounterMessage::Increment { by: 4 }, true);
        let mut envelope =
            mqless::wire::Envelope::decode(&ask.envelope, &mqless::Limits::DEFAULT).unwrap();
        envelope.asker = Some("AIDAALICE".into());
        ask.envelope = envelope.encode(&mqless::Limits::DEFAULT).unwrap();
        store.enqueue(&address, &ask).await.unwrap();
        // A host in another process than the asker: it stores the reply.
        let host = runtime_over(&store).host::<Counter>().unwrap();
        host.drain(address.id()).await.unwrap();

        let reply = store
            .get_reply(&address, ask.id, Some("AIDAALICE"))
            .await
            .unwrap()
            .expect("the asker reads its reply");
        assert_eq!(
            rmp_serde::from_slice::<mqless::wire::ReplyRecord>(&reply).unwrap(),
            mqless::wire::ReplyRecord::Ok(rmp_serde::to_vec(&4i64).unwrap()),
            "{layout}"
        );
        let own = sort_keys(&client, &store, "Counter/asked").await;
        let apart = sort_keys(&client, &store, "r/Counter/asked/AIDAALICE").await;
        let reply_key = format!("r#{}", ask.id);
        if layout == KeyLayout::V2 {
            assert_eq!(
                apart,
                std::slice::from_ref(&reply_key),
                "kept in the asker's partition"
            );
            assert!(!own.contains(&reply_key), "not in the actor's: {own:?}");
            assert_eq!(
                store
                    .get_reply(&address, ask.id, Some("AIDABOB"))
                    .await
                    .unwrap(),
                None,
                "another asker's key holds nothing"
            );
            assert_eq!(store.get_reply(&address, ask.id, None).await.unwrap(), None);
        } else {
            assert!(apart.is_empty(), "{apart:?}");
            assert!(
                own.contains(&reply_key),
                "in the actor's partition: {own:?}"
            );
        }
    }
}

/// A v2 client that names no asker asks STS who it is (`GetCallerIdentity`, here moto's
/// server, as `mqless dev --aws-services` points the SDK at it), once, and names that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_asks_as_the_identity_sts_names() {
    mqless_tests::requires_local_aws!();
    use mqless::client::AskerIdentity as _;
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_STS").is_some(),
        "no STS endpoint: run under scripts/local-aws (`mqless dev --aws-services`), which points it at moto's server"
    );
    let sdk = mqless::aws::load_config().await;
    let identity = mqless::aws::CallerIdentity::from_sts(&sdk);
    let asker = identity.asker().await.unwrap();
    mqless::wire::valid_asker(&asker).unwrap();
    assert_eq!(
        identity.asker().await.unwrap(),
        asker,
        "asked once, then kept"
    );
    let named = mqless::aws::CallerIdentity::fixed("AROAEXAMPLE:job").unwrap();
    assert_eq!(&*named.asker().await.unwrap(), "AROAEXAMPLE:job");
    let refused = mqless::aws::CallerIdentity::fixed("a/b").unwrap_err();
    assert!(refused.to_string().contains("MQLESS_ASKER"), "{refused}");
}

/// The item at `pk`/`sk` as DynamoDB JSON, for the string attributes a subscription has.
async fn item_json(client: &Client, store: &DynamoStore, pk: &str, sk: &str) -> serde_json::Value {
    let out = client
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = out.item().unwrap_or_else(|| panic!("no item {pk} {sk}"));
    let mut json = serde_json::Map::new();
    for (name, value) in item {
        let text = value
            .as_s()
            .unwrap_or_else(|_| panic!("{name} is not a string: {value:?}"));
        json.insert(name.clone(), serde_json::json!({ "S": text }));
    }
    serde_json::Value::Object(json)
}

fn fixture(name: &str) -> serde_json::Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/wire/v1")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The subscription items the stores write are the ones docs/wire.md specifies
/// (`item-subscription.json`, `item-subscription-key-layout-v2.json`): in v1 written by
/// the topic from a subscribe message, in v2 by the subscriber's own commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_items_are_as_the_wire_fixtures_say() {
    mqless_tests::requires_local_aws!();
    use mqless::store::{Commit, SubscriptionChange, SubscriptionRecord};
    use mqless::MessageId;
    let client = raw_client().await;
    let topic = mqless::id::Address::parse("mqless-topic/orders").unwrap();
    let record = SubscriptionRecord {
        subscriber: mqless::id::Address::parse("Watcher/w1").unwrap(),
        method: "on_order".into(),
        argument: "event".into(),
        pattern: Some(r#"{"total": [{"numeric": [">", 100]}]}"#.into()),
    };

    let v1 = local_aws::fresh_store_in("wire-subscription-v1", KeyLayout::V1).await;
    let by = MessageId::from_u128((1_800_000_000_000u128 << 80) | 1);
    v1.write_subscription(&topic, &record.key(), Some(&record), by)
        .await
        .unwrap();
    let written = item_json(&client, &v1, "mqless-topic/orders", "s#Watcher/w1#on_order").await;
    assert_eq!(written, fixture("item-subscription.json"));

    let v2 = local_aws::fresh_store_in("wire-subscription-v2", KeyLayout::V2).await;
    let commit = Commit {
        epoch: 0,
        expected_version: 0,
        state: vec![0x80],
        meta: Vec::new(),
        lease_expires_at: 0,
        outgoing: Vec::new(),
        continued: None,
        expires_at: None,
        mark: None,
        subscriptions: vec![SubscriptionChange {
            topic,
            record: record.clone(),
            subscribed: true,
        }],
    };
    v2.commit(&record.subscriber, &commit).await.unwrap();
    let written = item_json(&client, &v2, "t/orders/Watcher", "w1#on_order").await;
    assert_eq!(written, fixture("item-subscription-key-layout-v2.json"));
}

/// A table records the layout it was made in, and a process not told its layout
/// (`Environment::load` without `MQLESS_KEY_LAYOUT` calls `with_table_key_layout`) goes
/// by it: v2 for a table made where there was none, v1 for a table from before tables
/// recorded their layout, and a clear error for a layout this version does not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_records_its_layout_and_processes_not_told_one_go_by_it() {
    mqless_tests::requires_local_aws!();
    use mqless::aws::{Environment, FunctionNames};
    let client = raw_client().await;
    let sdk = mqless::aws::load_config().await;
    let environment = |table: &str| Environment::new(sdk.clone(), table, FunctionNames::default());
    let layout_item = |table: &str, layout: Option<&str>| {
        let request = client.put_item().table_name(table);
        let key = [("pk", "~table"), ("sk", "layout")];
        let mut item: std::collections::HashMap<String, AttributeValue> = key
            .iter()
            .map(|(name, value)| ((*name).to_owned(), AttributeValue::S((*value).into())))
            .collect();
        if let Some(layout) = layout {
            item.insert("kl".into(), AttributeValue::S(layout.into()));
        }
        request.set_item(Some(item))
    };

    // No table yet: v2, and the table this environment's store makes records it.
    let table = format!("layout-recorded-{}", mqless::MessageId::generate(1, None));
    let new = environment(&table).with_table_key_layout().await.unwrap();
    assert_eq!(new.key_layout(), KeyLayout::V2);
    new.store().create_table().await.unwrap();
    assert_eq!(
        new.store().recorded_key_layout().await.unwrap(),
        Some(KeyLayout::V2)
    );
    let later = environment(&table).with_table_key_layout().await.unwrap();
    assert_eq!(later.key_layout(), KeyLayout::V2);

    // Made again by a store in another layout: an existing table keeps its own.
    let v1_store = new.store().with_key_layout(KeyLayout::V1);
    v1_store.create_table().await.unwrap();
    assert_eq!(
        v1_store.recorded_key_layout().await.unwrap(),
        Some(KeyLayout::V2)
    );

    // A table made before tables recorded their layout: v1, as its processes used.
    let old = local_aws::fresh_store("layout-unrecorded").await;
    assert_eq!(
        old.recorded_key_layout().await.unwrap(),
        Some(KeyLayout::V1),
        "a v1 store's table records v1"
    );
    client
        .delete_item()
        .table_name(old.table())
        .key("pk", AttributeValue::S("~table".into()))
        .key("sk", AttributeValue::S("layout".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(old.recorded_key_layout().await.unwrap(), None);
    let unrecorded = environment(old.table())
        .with_table_key_layout()
        .await
        .unwrap();
    assert_eq!(unrecorded.key_layout(), KeyLayout::V1);

    // A layout a newer MQLess recorded, or none at all: an error that says what to set.
    for written in [Some("v9"), None] {
        layout_item(old.table(), written).send().await.unwrap();
        let error = environment(old.table())
            .with_table_key_layout()
            .await
            .unwrap_err();
        let mqless::Error::Config(message) = &error else {
            panic!("{error:?}")
        };
        assert!(message.contains("MQLESS_KEY_LAYOUT"), "{message}");
        assert!(message.contains(old.table()), "{message}");
    }
}

/// A table a template made records no layout (CloudFormation writes no items). The
/// sweeper, told the stack's layout, records it when it starts
/// (`record_key_layout_if_none`), and processes not told theirs then go by it; a table
/// that records a layout keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stacks_layout_is_recorded_in_a_table_that_records_none() {
    mqless_tests::requires_local_aws!();
    use mqless::aws::{Environment, FunctionNames};
    let client = raw_client().await;
    let made_by_a_template = local_aws::fresh_store("layout-template").await;
    client
        .delete_item()
        .table_name(made_by_a_template.table())
        .key("pk", AttributeValue::S("~table".into()))
        .key("sk", AttributeValue::S("layout".into()))
        .send()
        .await
        .unwrap();
    let sweeper = made_by_a_template.with_key_layout(KeyLayout::V2);
    assert_eq!(
        sweeper
            .record_key_layout_if_none(KeyLayout::V2)
            .await
            .unwrap(),
        KeyLayout::V2
    );
    let sdk = mqless::aws::load_config().await;
    let not_told = Environment::new(sdk, sweeper.table(), FunctionNames::default())
        .with_table_key_layout()
        .await
        .unwrap();
    assert_eq!(not_told.key_layout(), KeyLayout::V2);
    // Recorded already: kept, and said.
    assert_eq!(
        sweeper
            .record_key_layout_if_none(KeyLayout::V1)
            .await
            .unwrap(),
        KeyLayout::V2
    );
    assert_eq!(
        sweeper.recorded_key_layout().await.unwrap(),
        Some(KeyLayout::V2)
    );
}
