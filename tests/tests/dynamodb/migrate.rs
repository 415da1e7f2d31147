//! `mqless migrate` on DynamoDB Local: a key layout v1 table in use moves to v2 while its
//! actors run in the transitional layout (`KeyLayout::V1ToV2`), which reads both
//! mailboxes of an actor (v1's first) and deletes a consumed message under v1's key
//! before v2's, so a move racing a drain neither loses, repeats nor reorders a message.

use mqless::aws::aws_sdk_dynamodb::types::AttributeValue;
use mqless::aws::KeyLayout;
use mqless_tests::ledger::{self, Ledger, Scenario};

use super::*;

/// How many `m#` items the scan finds in v1's partitions (`pk` without `m/`).
async fn v1_messages(store: &DynamoStore) -> usize {
    let client = mqless::aws::aws_sdk_dynamodb::Client::new(&mqless::aws::load_config().await);
    let out = client
        .scan()
        .table_name(store.table())
        .filter_expression("begins_with(sk, :m) AND NOT begins_with(pk, :v2)")
        .expression_attribute_values(":m", AttributeValue::S("m#".into()))
        .expression_attribute_values(":v2", AttributeValue::S("m/".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items().len()
}

/// Half of every sender's messages queued by a v1 process and left there; then every
/// process on the transitional layout: senders send the other half (into v2's
/// partitions), drains race each other, and `mqless migrate` moves the v1 messages
/// meanwhile, again and again until none is left. Every message is applied once, each
/// sender's in order, never two of one actor at once; v1's partitions end empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_v1_table_in_use_moves_to_v2_while_its_actors_run() {
    mqless_tests::requires_local_aws!();
    let scenario = Scenario {
        senders: 6,
        messages_per_sender: 16,
        actors: 3,
        rogue_drainers: 0,
    };
    let half = scenario.messages_per_sender / 2;
    let v1 = local_aws::fresh_store_in("migrate", KeyLayout::V1).await;
    let queued_only = Embedded::builder()
        .store(Arc::new(v1.clone()))
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    queued_only.register::<Ledger>().unwrap();
    let send = |runtime: Arc<Embedded>, seqs: std::ops::Range<u32>| async move {
        for seq in seqs {
            for sender in 0..scenario.senders {
                let to = format!("ledger-{}", (sender + seq) % scenario.actors);
                let ledger = runtime.client::<Ledger>(to).unwrap();
                ledger.record(sender, seq).send().await.unwrap();
            }
        }
    };
    send(Arc::new(queued_only), 0..half).await;
    assert_eq!(v1_messages(&v1).await, (scenario.senders * half) as usize);
    let moving = v1.clone().with_key_layout(KeyLayout::V1ToV2);
    assert_eq!(
        moving.migrate_mailboxes(true).await.unwrap().found,
        u64::from(scenario.senders * half),
        "a dry run counts them and moves nothing"
    );

    let runtime = Arc::new(Embedded::builder().store(Arc::new(moving.clone())).build());
    runtime.register::<Ledger>().unwrap();
    let host = Arc::new(runtime.host::<Ledger>().unwrap());
    let migrating = {
        let moving = moving.clone();
        tokio::spawn(async move {
            let mut moved = 0;
            loop {
                let migration = moving.migrate_mailboxes(false).await.unwrap();
                moved += migration.moved;
                if migration.found == 0 {
                    return moved;
                }
            }
        })
    };
    let drains: Vec<_> = (0..scenario.actors)
        .map(|a| {
            let host = host.clone();
            tokio::spawn(async move {
                let id = ActorId::new(format!("ledger-{a}")).unwrap();
                for _ in 0..6 {
                    host.drain(&id).await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    send(runtime.clone(), half..scenario.messages_per_sender).await;
    for drain in drains {
        drain.await.unwrap();
    }
    let moved = migrating.await.unwrap();
    runtime.settle().await;
    for a in 0..scenario.actors {
        host.drain(&ActorId::new(format!("ledger-{a}")).unwrap())
            .await
            .unwrap();
    }
    println!(
        "moved {moved} of {} v1 messages while drains ran",
        scenario.senders * half
    );
    ledger::check(&runtime, &scenario).await;
    assert_eq!(v1_messages(&moving).await, 0, "v1's partitions are empty");
    assert_eq!(moving.migrate_mailboxes(true).await.unwrap().found, 0);
    let v2 = moving.clone().with_key_layout(KeyLayout::V2);
    for a in 0..scenario.actors {
        let address = Address::parse(&format!("Ledger/ledger-{a}")).unwrap();
        assert!(v2.read_mailbox(&address, 10).await.unwrap().is_empty());
    }
}

/// A migration needs every process on the transitional layout: from a v1 or v2 store it
/// refuses to move anything (a dry run still counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_refuses_to_run_outside_the_transitional_layout() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store_in("migrate-refused", KeyLayout::V1).await;
    let item = mqless_tests::mailbox_item(
        &mqless_examples::counter::CounterMessage::Increment { by: 1 },
        false,
    );
    store
        .enqueue(&Address::parse("Counter/c").unwrap(), &item)
        .await
        .unwrap();
    for layout in [KeyLayout::V1, KeyLayout::V2] {
        let error = store
            .clone()
            .with_key_layout(layout)
            .migrate_mailboxes(false)
            .await
            .unwrap_err();
        assert!(error.message.contains("v1-to-v2"), "{error}");
    }
    assert_eq!(store.migrate_mailboxes(true).await.unwrap().found, 1);
    assert_eq!(v1_messages(&store).await, 1, "nothing moved");
}

/// On the way to v2, a drain that consumes messages still in v1's partition deletes them
/// there: nothing is left for the audit to wake the actor for, again and again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_on_the_way_to_v2_deletes_what_it_consumed_from_v1s_partition() {
    mqless_tests::requires_local_aws!();
    use mqless_examples::counter::{Counter, CounterMessage};
    let v1 = local_aws::fresh_store_in("migrate-consume", KeyLayout::V1).await;
    let address = Address::parse("Counter/c").unwrap();
    for by in [1, 2, 4] {
        let item = mqless_tests::mailbox_item(&CounterMessage::Increment { by }, false);
        v1.enqueue(&address, &item).await.unwrap();
    }
    let moving = v1.clone().with_key_layout(KeyLayout::V1ToV2);
    let runtime = runtime_over(&moving);
    runtime.register::<Counter>().unwrap();
    runtime
        .host::<Counter>()
        .unwrap()
        .drain(address.id())
        .await
        .unwrap();
    assert_eq!(
        runtime.client::<Counter>("c").unwrap().get().query().await,
        Ok(7)
    );
    assert_eq!(v1_messages(&moving).await, 0, "deleted where they were");
    assert_eq!(
        moving.pending_actors(u64::MAX / 2).await.unwrap(),
        Vec::<Address>::new(),
        "the audit finds nothing to wake it for"
    );
}

/// What [`Between`] runs, once.
type Action = Box<dyn FnOnce() + Send>;

/// An SDK hook that runs its action once, when the next DynamoDB call's answer has
/// arrived and before the store sees it: what happened between that call and the next.
#[derive(Clone, Default)]
struct Between {
    action: Arc<std::sync::Mutex<Option<Action>>>,
}

impl Between {
    fn arm(&self, action: impl FnOnce() + Send + 'static) {
        *self.action.lock().unwrap() = Some(Box::new(action));
    }
}

impl std::fmt::Debug for Between {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Between")
    }
}

impl mqless::aws::aws_sdk_dynamodb::config::Intercept for Between {
    fn name(&self) -> &'static str {
        "Between"
    }

    fn read_after_deserialization(
        &self,
        _context: &mqless::aws::aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef<'_>,
        _components: &mqless::aws::aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut mqless::aws::aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), mqless::aws::aws_sdk_dynamodb::error::BoxError> {
        let action = self.action.lock().unwrap().take();
        if let Some(action) = action {
            action();
        }
        Ok(())
    }
}

/// In the transitional layout a drain reads v1's mailbox, then v2's: a message that
/// `mqless migrate` moves between the two reads is seen in both (and run once), never
/// in neither. Here the move runs, every time, right after the drain's first read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_moved_between_a_drains_two_reads_is_read() {
    mqless_tests::requires_local_aws!();
    let between = Between::default();
    let reader = local_aws::fresh_store_intercepted("between-reads", between.clone())
        .await
        .with_key_layout(KeyLayout::V1ToV2);
    let client = mqless::aws::aws_sdk_dynamodb::Client::new(&mqless::aws::load_config().await);
    let store_in =
        |layout| DynamoStore::new(client.clone(), reader.table()).with_key_layout(layout);
    let sender_in = |layout| {
        let runtime = Embedded::builder()
            .store(Arc::new(store_in(layout)))
            .manual_drains(Arc::new(RecordingInvoker::new()))
            .build();
        runtime.register::<Ledger>().unwrap();
        runtime
    };
    // The first message queued by a process still in v1, the second in v2's partition.
    for (seq, layout) in [(0, KeyLayout::V1), (1, KeyLayout::V1ToV2)] {
        let runtime = sender_in(layout);
        let ledger = runtime.client::<Ledger>("moved").unwrap();
        ledger.record(0, seq).send().await.unwrap();
    }
    let mover = store_in(KeyLayout::V1ToV2);
    let (moved_tx, moved_rx) = std::sync::mpsc::channel();
    between.arm(move || {
        let migrate = mover.migrate_mailboxes(false);
        let moved =
            tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(migrate));
        moved_tx.send(moved.unwrap().moved).unwrap();
    });

    let address = Address::parse("Ledger/moved").unwrap();
    let read = reader.read_mailbox(&address, 10).await.unwrap();
    assert_eq!(
        moved_rx.try_recv(),
        Ok(1),
        "the first message moved between the reads"
    );
    assert_eq!(
        read.len(),
        2,
        "both messages read, the moved one once: {read:?}"
    );
    assert!(read[0].id < read[1].id, "in id order");
    let queued = store_in(KeyLayout::V2)
        .read_mailbox(&address, 10)
        .await
        .unwrap();
    assert_eq!(
        read.iter().map(|m| m.id).collect::<Vec<_>>(),
        queued.iter().map(|m| m.id).collect::<Vec<_>>(),
        "what v2's partition holds now"
    );
}
