//! Operating actors by address, without their Rust types (`Operator`, what the `mqless`
//! tool drives): listing a type's actors page by page, inspecting one, resetting and
//! deleting under the lease. The same bodies run on the embedded runtime and on
//! DynamoDB Local.

use std::sync::Arc;

use mqless::id::{ActorType, Address};
use mqless::recovery::Retired;
use mqless::store::Store;
use mqless::Embedded;
use serde::{Deserialize, Serialize};

/// A gauge: the actor type these tests operate.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Gauge {
    /// The last value set.
    pub value: i64,
}

#[mqless::actor]
impl Gauge {
    /// Sets the value.
    pub fn set(&mut self, value: i64) {
        self.value = value;
    }

    /// Always refused: a tell of it is dead-lettered as `rejected`.
    pub fn refuse(&mut self) -> Result<(), String> {
        Err(format!("refused at {}", self.value))
    }
}

/// Another type, which must never show up in a listing of `Gauge`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Dial {
    value: i64,
}

#[mqless::actor]
impl Dial {
    /// Sets the value.
    pub fn set(&mut self, value: i64) {
        self.value = value;
    }
}

/// A runtime over `store` running both types.
pub fn runtime(store: Arc<dyn Store>) -> Embedded {
    let runtime = Embedded::builder().store(store).build();
    runtime.register::<Gauge>().unwrap();
    runtime.register::<Dial>().unwrap();
    runtime
}

fn gauge(id: &str) -> Address {
    Address::parse(&format!("Gauge/{id}")).unwrap()
}

/// `count` gauges listed in pages of `page`, in address order, each once; dials and
/// actors that never committed are not listed.
pub async fn lists_a_type_page_by_page(
    runtime: &Embedded,
    store: &dyn Store,
    count: usize,
    page: usize,
) {
    let operator = runtime.operator();
    for i in 0..count {
        let id = format!("g{i:04}");
        runtime
            .client::<Gauge>(id)
            .unwrap()
            .set(i as i64)
            .send()
            .await
            .unwrap();
    }
    runtime
        .client::<Dial>("d1")
        .unwrap()
        .set(1)
        .send()
        .await
        .unwrap();
    runtime.settle().await;
    // Queued but never drained: not an actor with state yet.
    store
        .enqueue(
            &gauge("queued-only"),
            &crate::mailbox_item(&GaugeMessage::Set { value: 1 }, false),
        )
        .await
        .unwrap();

    let gauges = ActorType::new("Gauge").unwrap();
    let mut listed = Vec::new();
    let mut pages = 0;
    loop {
        let next = operator.list(&gauges, listed.last(), page).await.unwrap();
        pages += 1;
        let done = next.len() < page;
        listed.extend(next);
        if done {
            break;
        }
    }
    let expected: Vec<Address> = (0..count).map(|i| gauge(&format!("g{i:04}"))).collect();
    assert_eq!(listed, expected);
    assert_eq!(pages, count / page + 1);
    let dials = operator
        .list(&ActorType::new("Dial").unwrap(), None, 10)
        .await
        .unwrap();
    assert_eq!(dials, vec![Address::parse("Dial/d1").unwrap()]);
}

/// What `inspect` reports: state, version, queued messages, dead letters and the last
/// error; then a reset keeps the mailbox and dead letters and the next message runs on
/// the default state.
pub async fn inspects_and_resets(runtime: &Embedded, store: &dyn Store) {
    let operator = runtime.operator();
    let client = runtime.client::<Gauge>("inspected").unwrap();
    client.set(7).send().await.unwrap();
    client.refuse().send().await.unwrap();
    runtime.settle().await;
    store
        .enqueue(
            &gauge("inspected"),
            &crate::mailbox_item(&GaugeMessage::Set { value: 9 }, false),
        )
        .await
        .unwrap();

    let report = operator.inspect(&gauge("inspected")).await.unwrap();
    assert!(report.exists());
    let state: Gauge =
        mqless::wire::decode(report.state.as_deref().unwrap(), "state", 1 << 20, 32).unwrap();
    assert_eq!(state.value, 7);
    assert!(report.version >= 1);
    assert_eq!(report.queued, 1);
    assert_eq!(report.dead_letters, 1);
    assert!(report.last_error.unwrap().contains("refused at 7"));
    assert_eq!(report.lease_expires_at, None);
    assert!(report.quarantine.is_none());
    let peeked = operator.mailbox(&gauge("inspected"), 10).await.unwrap();
    assert_eq!(peeked.len(), 1);
    let body = &peeked[0].envelope.as_ref().unwrap().body;
    let message: GaugeMessage = mqless::wire::decode(body, "message", 1 << 20, 32).unwrap();
    assert!(matches!(message, GaugeMessage::Set { value: 9 }));

    assert_eq!(
        operator.reset_state(&gauge("inspected")).await.unwrap(),
        Retired::Done
    );
    let reset = operator.inspect(&gauge("inspected")).await.unwrap();
    assert_eq!(reset.state, None);
    assert_eq!(reset.version, report.version + 1);
    assert_eq!((reset.queued, reset.dead_letters), (1, 1));
    // The queued message runs on the default state; the dead letter is still there. It
    // was queued past the client, with no wake-up: the audit finds it.
    runtime.audit().await.unwrap();
    runtime.settle().await;
    assert_eq!(
        runtime
            .state::<Gauge>("inspected")
            .await
            .unwrap()
            .unwrap()
            .value,
        9
    );
    assert_eq!(
        operator.reset_state(&gauge("never-seen")).await.unwrap(),
        Retired::Missing
    );
}

/// Delete removes state, queued messages and dead letters; the actor leaves the
/// listing; a later message starts it afresh. Neither reset nor delete touches an actor
/// whose lease a drain holds.
pub async fn deletes_and_respects_the_lease(runtime: &Embedded, store: &dyn Store, now: u64) {
    let operator = runtime.operator();
    let client = runtime.client::<Gauge>("doomed").unwrap();
    client.set(5).send().await.unwrap();
    client.refuse().send().await.unwrap();
    runtime.settle().await;
    store
        .enqueue(
            &gauge("doomed"),
            &crate::mailbox_item(&GaugeMessage::Set { value: 6 }, false),
        )
        .await
        .unwrap();

    // A drain holds the lease: both refuse, and change nothing.
    let held = store
        .acquire(&gauge("doomed"), now, now + 60_000, 77)
        .await
        .unwrap()
        .taken();
    assert!(held.is_some());
    assert_eq!(
        operator.reset_state(&gauge("doomed")).await.unwrap(),
        Retired::Busy
    );
    assert_eq!(
        operator.delete(&gauge("doomed")).await.unwrap(),
        Retired::Busy
    );
    let report = operator.inspect(&gauge("doomed")).await.unwrap();
    assert!(report.lease_expires_at.is_some());
    assert_eq!((report.queued, report.dead_letters), (1, 1));
    store.abandon(&gauge("doomed"), 77).await.unwrap();

    assert_eq!(
        operator.delete(&gauge("doomed")).await.unwrap(),
        Retired::Done
    );
    let gone = operator.inspect(&gauge("doomed")).await.unwrap();
    assert!(!gone.exists(), "{gone:?}");
    let gauges = ActorType::new("Gauge").unwrap();
    assert!(!operator
        .list(&gauges, None, 1000)
        .await
        .unwrap()
        .contains(&gauge("doomed")));
    assert_eq!(
        operator.delete(&gauge("doomed")).await.unwrap(),
        Retired::Missing
    );

    client.set(1).send().await.unwrap();
    runtime.settle().await;
    assert_eq!(
        runtime
            .state::<Gauge>("doomed")
            .await
            .unwrap()
            .unwrap()
            .value,
        1
    );
    assert!(operator
        .list(&gauges, None, 1000)
        .await
        .unwrap()
        .contains(&gauge("doomed")));
}
