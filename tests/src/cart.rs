//! A cart that keeps itself alive with a reminder and checks out by stopping itself:
//! for the tests of expiry (`ctx.stop`, idle time to live, TTL deletion).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A cart that checks out by stopping itself.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cart {
    items: Vec<String>,
    /// Pings received from its reminder.
    pub pings: u32,
}

#[mqless::actor]
impl Cart {
    /// Adds an item; the number of items.
    pub fn add(&mut self, item: String) -> usize {
        self.items.push(item);
        self.items.len()
    }

    /// Pings itself every minute.
    pub async fn keep_alive(
        &mut self,
        ctx: &mut mqless::Context,
    ) -> Result<(), mqless::RuntimeError> {
        let me = ctx.actor::<Cart>(ctx.id().as_str())?;
        let every = mqless::schedule::Reminder::every(Duration::from_secs(60));
        me.ping().remind("ping", every).await?;
        Ok(())
    }

    /// One ping.
    pub fn ping(&mut self) {
        self.pings += 1;
    }

    /// Checks out: the cart is gone.
    pub fn check_out(&mut self, ctx: &mut mqless::Context) -> Result<usize, mqless::RuntimeError> {
        ctx.stop()?;
        Ok(self.items.len())
    }
}

/// A wake-up for an address with nothing queued (a stray, repeated or forged one) makes
/// the acquire create a `#state` record; it used to stay forever, read by every sweep.
/// It now expires a day later unless a message commits to it first.
pub async fn a_stray_wake_up_leaves_no_lasting_record(
    store: std::sync::Arc<dyn mqless::store::Store>,
    delete_expired: crate::conformance::DeleteExpired,
) {
    use mqless::clock::Clock as _;
    let clock = mqless::clock::SystemClock;
    let runtime = mqless::Embedded::builder()
        .store(store.clone())
        .manual_drains(std::sync::Arc::new(mqless::testing::RecordingInvoker::new()))
        .build();
    runtime.register::<Cart>().unwrap();
    let id = format!("stray-{}", mqless::MessageId::generate(1, None));
    let address = mqless::id::Address::parse(&format!("Cart/{id}")).unwrap();
    let host = runtime.host::<Cart>().unwrap();
    host.drain(&mqless::ActorId::new(id.as_str()).unwrap())
        .await
        .unwrap();
    // The wake-up wrote only its lease item, which expires an hour after its lease.
    let stub = store
        .load_state(&address)
        .await
        .unwrap()
        .expect("the acquire's lease item");
    assert_eq!(
        (stub.version, stub.lease_expires_at, stub.state),
        (0, 0, None)
    );
    let lease = mqless::mailbox::DrainConfig::default().lease;
    let past = clock.now_millis() + 3_600_000 + lease.as_millis() as u64 + 1_000;
    delete_expired(past).await;
    assert_eq!(
        store.load_state(&address).await.unwrap(),
        None,
        "nothing of a stray wake-up lasts"
    );
    // A message that commits makes it a record like any other.
    let cart = mqless::Actors::client::<Cart>(&runtime, id.clone()).unwrap();
    cart.add("apple".into()).send().await.unwrap();
    host.drain(&mqless::ActorId::new(id.as_str()).unwrap())
        .await
        .unwrap();
    let record = store.load_state(&address).await.unwrap().unwrap();
    assert_eq!((record.version, record.expires_at), (1, None));
}
