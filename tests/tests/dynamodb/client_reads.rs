//! What a client reads of the table in key layout v2, on DynamoDB Local: each read names
//! the attributes `ClientPolicy` allows it, so that none reads an actor's bookkeeping
//! (its last batch's replies, to other askers too) or a queued message's envelope
//! (another client's request).

use mqless::aws::dynamodb::schema::{
    COMMITTED_STATE_ATTRIBUTES, DEAD_LETTER_ATTRIBUTES, QUEUED_KEY_ATTRIBUTES,
};
use mqless::aws::KeyLayout;

use super::*;

/// Notes the reads a client makes of actors' own partitions (`Type/id`: records and
/// dead letters) and of their mailboxes (`m/Type/id`), each with the attributes it names
/// (`None`: the whole item).
#[derive(Debug, Clone, Default)]
struct ClientReads {
    reads: Arc<std::sync::Mutex<Vec<Read>>>,
}

impl ClientReads {
    /// The reads of partitions whose keys start with `prefix` (`m/`), or of actors' own
    /// partitions (`None`).
    fn of(&self, prefix: Option<&str>) -> Vec<Read> {
        let reads = self.reads.lock().unwrap();
        reads
            .iter()
            .filter(|(read, _)| {
                let pk = read.split_once(' ').map_or("", |(_, pk)| pk);
                match prefix {
                    Some(prefix) => pk.starts_with(prefix),
                    None => !pk.starts_with("m/"),
                }
            })
            .cloned()
            .collect()
    }
}

/// A read: what and where (`GetItem Counter/c`), and the attributes it names.
type Read = (String, Option<Vec<String>>);

impl mqless::aws::aws_sdk_dynamodb::config::Intercept for ClientReads {
    fn name(&self) -> &'static str {
        "ClientReads"
    }

    fn read_before_transmit(
        &self,
        context: &mqless::aws::aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &mqless::aws::aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut mqless::aws::aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), mqless::aws::aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("")
            .to_owned();
        if operation != "GetItem" && operation != "Query" {
            return Ok(());
        }
        let body: serde_json::Value =
            serde_json::from_slice(request.body().bytes().unwrap_or(b"{}")).unwrap_or_default();
        let pk = body["Key"]["pk"]["S"]
            .as_str()
            .or_else(|| body["ExpressionAttributeValues"][":pk"]["S"].as_str())
            .unwrap_or("");
        let apart = ["r/", "t/", "~"].iter().any(|p| pk.starts_with(p));
        // The reply to an ask that names no asker is kept in the actor's partition; a
        // client of a v2 table names its asker (this embedded one cannot).
        let asker_less_reply = body["Key"]["sk"]["S"]
            .as_str()
            .is_some_and(|sk| sk.starts_with("r#"));
        if !pk.contains('/') || apart || asker_less_reply {
            return Ok(());
        }
        let names = body["ProjectionExpression"].as_str().map(|expression| {
            expression
                .split(',')
                .map(|name| {
                    let name = name.trim();
                    body["ExpressionAttributeNames"][name]
                        .as_str()
                        .unwrap_or(name)
                        .to_owned()
                })
                .collect()
        });
        self.reads
            .lock()
            .unwrap()
            .push((format!("{operation} {pk}"), names));
        Ok(())
    }
}

/// A fresh v2 table, and a store over it whose reads `ClientReads` notes: the client's.
async fn watched_v2(test: &str) -> (DynamoStore, ClientReads, DynamoStore) {
    let store = local_aws::fresh_store_in(test, KeyLayout::V2).await;
    let reads = ClientReads::default();
    let watched = local_aws::store_intercepted(store.table(), reads.clone())
        .await
        .with_key_layout(KeyLayout::V2);
    (store, reads, watched)
}

/// Drains counter `id` once, as its function would (over the unwatched store).
async fn drain_counter(store: &DynamoStore, id: &str) {
    use mqless_examples::counter::Counter;
    let functions = runtime_over(store);
    functions.register::<Counter>().unwrap();
    functions
        .host::<Counter>()
        .unwrap()
        .drain(&mqless::ActorId::new(id).unwrap())
        .await
        .unwrap();
}

/// Asserts that each of `reads` names its attributes, all of them among `allowed`.
fn assert_each_names_only(reads: &[Read], allowed: &[&str]) {
    for (read, names) in reads {
        let names = names
            .as_ref()
            .unwrap_or_else(|| panic!("{read} reads the whole item"));
        assert!(
            names.iter().all(|name| allowed.contains(&name.as_str())),
            "{read} reads {names:?}, not only {allowed:?}"
        );
    }
}

/// What a client reads of an actor's own partition (`.query()`, `Actors::state`, its
/// dead letters, an ask's quarantine check when it times out) names its attributes, and
/// never the bookkeeping (`meta`, the last batch's replies to anyone), so that key
/// layout v2's `ClientPolicy`, which allows those attributes only, lets it through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_reads_of_an_actors_partition_name_their_attributes_never_the_bookkeeping() {
    mqless_tests::requires_local_aws!();
    use mqless::testing::RecordingInvoker;
    use mqless_examples::counter::Counter;
    let (store, reads, watched) = watched_v2("layout-client-reads").await;
    let client = Embedded::builder()
        .store(Arc::new(watched))
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    client.register::<Counter>().unwrap();

    let counter = client.client::<Counter>("c").unwrap();
    counter.increment(4).send().await.unwrap();
    drain_counter(&store, "c").await;
    assert_eq!(counter.get().query().await.unwrap(), 4);
    assert_eq!(
        client.state::<Counter>("c").await.unwrap().unwrap().get(),
        4
    );
    assert!(client
        .dead_letters::<Counter>("c")
        .unwrap()
        .list()
        .await
        .unwrap()
        .is_empty());
    // Nothing drains here: the ask times out, and reads whether the actor is quarantined.
    let asked = counter
        .get()
        .timeout(Duration::from_millis(50))
        .call()
        .await;
    assert!(asked.is_err(), "{asked:?}");

    let reads = reads.of(None);
    assert!(reads.len() >= 4, "{reads:?}");
    let mut allowed = COMMITTED_STATE_ATTRIBUTES.to_vec();
    allowed.extend(DEAD_LETTER_ATTRIBUTES);
    assert!(!allowed.contains(&"meta"), "the bookkeeping is no client's");
    assert_each_names_only(&reads, &allowed);
}

/// What a client reads of a mailbox (`Remote::settle`; a put whose answer was lost is
/// settled the same way) names the messages' keys and due times, never their envelopes
/// (other clients' requests), so that key layout v2's `ClientPolicy`, which allows those
/// attributes only, lets it through; and by them alone `settle` still tells a message
/// to wait for from one scheduled for later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_reads_of_a_mailbox_name_the_keys_never_the_envelopes() {
    mqless_tests::requires_local_aws!();
    use mqless::aws::{FunctionNames, LambdaInvoker, Remote};
    use mqless::{Actors, Error, Limits};
    use mqless_examples::counter::Counter;
    let (store, reads, watched) = watched_v2("client-mailbox-reads").await;
    // No function answers here: the functions below drain by hand.
    let nowhere =
        mqless::aws::aws_sdk_lambda::config::Builder::from(&mqless::aws::load_config().await)
            .endpoint_url("http://127.0.0.1:9")
            .build();
    let invoker = LambdaInvoker::new(
        mqless::aws::aws_sdk_lambda::Client::from_conf(nowhere),
        FunctionNames::with_prefix("nowhere-").unwrap(),
    );
    let remote =
        Remote::new(watched, invoker, Limits::DEFAULT).settle_timeout(Duration::from_millis(300));
    let counter = remote.client::<Counter>("c").unwrap();

    counter
        .increment(1)
        .send_after(Duration::from_secs(3600))
        .await
        .unwrap();
    remote
        .settle()
        .await
        .expect("a message due in an hour is not waited for");
    counter.increment(2).send().await.unwrap();
    let unsettled = remote.settle().await;
    assert!(
        matches!(&unsettled, Err(Error::NotSettled { pending, .. }) if pending == &["Counter/c"]),
        "a message to run now is waited for: {unsettled:?}"
    );
    drain_counter(&store, "c").await;
    remote.settle().await.unwrap();
    assert_eq!(counter.get().query().await.unwrap(), 2);

    let reads = reads.of(Some("m/"));
    assert!(reads.len() >= 3, "{reads:?}");
    assert_each_names_only(&reads, &QUEUED_KEY_ATTRIBUTES);
}
