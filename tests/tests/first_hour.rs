//! What a new user trips over in the first hour, each fixed and pinned here: handler
//! errors that take `?`, comparable ask errors, `#[handler(skip)]`, printable messages
//! and dead letters, sends to actor types nobody runs, asks from inside a handler, a
//! context client kept past its handler, and `settle`/`state` on the `Actors` trait.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mqless::prelude::*;
use mqless::{Error, Never, RuntimeError};
use serde::{Deserialize, Serialize};

/// An order that reserves stock from a warehouse actor.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Order {
    reserved: u32,
}

/// The order's own error: a domain case, and the runtime's failures as a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderError {
    /// Nothing to reserve.
    Empty,
    /// The runtime refused a send.
    Runtime(RuntimeError),
}

impl From<Error> for OrderError {
    fn from(error: Error) -> Self {
        Self::Runtime(error.into())
    }
}

/// A warehouse.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Warehouse {
    reserved: u32,
}

/// Serializable but without `Debug`: messages carrying it still print.
#[derive(Serialize, Deserialize)]
pub struct Secret(pub u8);

/// Not serializable, so it cannot travel in a message: only helpers may take it.
pub struct Catalog(pub Vec<String>);

static LATE_SEND: Mutex<Option<tokio::task::JoinHandle<Result<mqless::MessageId, Error>>>> =
    Mutex::new(None);

#[mqless::actor]
impl Order {
    /// One `?` per fallible call, with the handler's own error type.
    pub async fn reserve(
        &mut self,
        warehouse: String,
        count: u32,
        ctx: &mut Context,
    ) -> Result<u32, OrderError> {
        if count == 0 {
            return Err(OrderError::Empty);
        }
        ctx.actor::<Warehouse>(warehouse)?
            .take(count)
            .send()
            .await?;
        self.reserved += count;
        Ok(self.reserved)
    }

    /// The runtime's error type works as the method's error directly.
    pub async fn reserve_plain(
        &mut self,
        warehouse: String,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        ctx.actor::<Warehouse>(warehouse)?.take(1).send().await?;
        Ok(())
    }

    /// Asks another actor through a client from outside the handler: refused.
    pub async fn ask_from_inside(&self, other: String) -> String {
        let outside = mqless::Embedded::new();
        outside.register::<Warehouse>().unwrap();
        let client = outside.client::<Warehouse>(other).unwrap();
        format!("{:?}", client.count().call().await)
    }

    /// Moves its context client into a task that sends after the handler returned.
    pub fn send_later(&self, warehouse: String, ctx: &mut Context) {
        let client = ctx.actor::<Warehouse>(warehouse).unwrap();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            client.take(1).send().await
        });
        *LATE_SEND.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
    }

    /// A public helper that is not a message: its argument need not be serde.
    #[handler(skip)]
    pub fn describe(&self, catalog: &Catalog) -> String {
        format!("{} reserved of {} items", self.reserved, catalog.0.len())
    }
}

#[mqless::actor]
impl Warehouse {
    /// Takes `count` items.
    pub fn take(&mut self, count: u32) {
        self.reserved += count;
    }

    /// Stores something that has no `Debug`.
    pub fn stash(&mut self, secret: Secret) {
        self.reserved += u32::from(secret.0);
    }

    /// Items taken.
    pub fn count(&self) -> u32 {
        self.reserved
    }
}

fn runtime() -> Arc<Embedded> {
    let runtime = Embedded::new();
    runtime.register::<Order>().unwrap();
    runtime.register::<Warehouse>().unwrap();
    Arc::new(runtime)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_uses_question_mark_with_its_own_error_and_ask_errors_compare() {
    let runtime = runtime();
    let order = runtime.client::<Order>("o1").unwrap();
    assert_eq!(order.reserve("w1".into(), 2,).call().await, Ok(2));
    assert_eq!(
        order.reserve("w1".into(), 0).call().await,
        Err(AskError::Handler(OrderError::Empty))
    );
    let refused = order.reserve("bad/id".into(), 1).call().await.unwrap_err();
    match refused {
        AskError::Handler(OrderError::Runtime(error)) => {
            assert!(error.message.contains("invalid actor id"), "{error}");
        }
        other => panic!("expected the runtime error as the handler's error: {other:?}"),
    }
    assert!(matches!(
        order.reserve_plain("bad/id".into()).call().await,
        Err(AskError::Handler(RuntimeError { .. }))
    ));
    runtime.settle().await;
    assert_eq!(
        mqless_tests::state::<Warehouse>(&*runtime, "w1")
            .await
            .reserved,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_method_is_a_plain_method_and_messages_print_with_debug() {
    let order = Order { reserved: 3 };
    assert_eq!(
        order.describe(&Catalog(vec!["a".into()])),
        "3 reserved of 1 items"
    );
    let message = OrderMessage::Reserve {
        warehouse: "w1".into(),
        count: 2,
    };
    assert_eq!(
        format!("{message:?}"),
        r#"Reserve { warehouse: "w1", count: 2 }"#
    );
    assert_eq!(format!("{:?}", WarehouseMessage::Count {}), "Count");
    assert_eq!(
        format!("{:?}", WarehouseMessage::Stash { secret: Secret(7) }),
        "Stash { secret: <first_hour::Secret> }"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_decode_without_limits_and_print() {
    #[derive(Debug, Default, Serialize, Deserialize)]
    pub struct Fragile;
    #[mqless::actor]
    impl Fragile {
        pub fn charge(&mut self, order_id: String, cents: u64) {
            panic!("card declined for {order_id}: {cents}");
        }
    }
    let runtime = Embedded::new();
    runtime.register::<Fragile>().unwrap();
    let fragile = runtime.client::<Fragile>("f").unwrap();
    fragile.charge("o-7".into(), 250).send().await.unwrap();
    runtime.settle().await;
    let letters = mqless_tests::dead_letters::<Fragile>(&runtime, "f").await;
    assert_eq!(letters.len(), 1);
    let message = letters[0].message::<Fragile>().unwrap();
    assert_eq!(
        format!("{message:?}"),
        r#"Charge { order_id: "o-7", cents: 250 }"#
    );
    assert!(letters[0].error.contains("card declined for o-7"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_to_an_actor_type_nobody_runs_fails_at_once_and_says_which() {
    let runtime = Embedded::new();
    runtime.register::<Order>().unwrap(); // `Warehouse` is not registered
    let order = runtime.client::<Order>("o2").unwrap();
    match order.reserve("w1".into(), 1).call().await {
        Err(AskError::Handler(OrderError::Runtime(error))) => assert!(
            error
                .message
                .contains("nothing runs actor type `Warehouse`")
                && error.message.contains("register"),
            "{error}"
        ),
        other => panic!("expected NoHost as the handler's error: {other:?}"),
    }
    assert_eq!(
        runtime.client::<Warehouse>("w1").unwrap_err(),
        Error::NotRegistered("Warehouse".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ask_from_inside_a_handler_through_an_outside_client_is_refused() {
    let runtime = runtime();
    let order = runtime.client::<Order>("o3").unwrap();
    // Not refused, the inner ask would end in its own `Timeout` error instead.
    let answer = order.ask_from_inside("w9".into()).call().await.unwrap();
    assert_eq!(
        answer,
        format!(
            "{:?}",
            Err::<u32, _>(AskError::<Never>::NotAllowedInHandler)
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_client_used_after_its_handler_returned_fails_instead_of_losing_the_message() {
    let runtime = runtime();
    let order = runtime.client::<Order>("o4").unwrap();
    order.send_later("w4".into()).call().await.unwrap();
    let task = LATE_SEND
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .expect("the handler spawned its task");
    let sent = task.await.unwrap();
    assert!(
        matches!(&sent, Err(Error::HandlerReturned { to }) if to == "Warehouse/w4"),
        "{sent:?}"
    );
    runtime.settle().await;
    assert!(runtime.state::<Warehouse>("w4").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_written_against_actors_settles_and_reads_state_on_the_embedded_runtime() {
    async fn reserve_and_read(actors: &impl Actors) -> Result<Option<Warehouse>, Error> {
        let order = actors.client::<Order>("o5")?;
        order.reserve("w5".into(), 4).send().await?;
        actors.settle().await?;
        actors.state::<Warehouse>("w5").await
    }
    let runtime = runtime();
    assert_eq!(
        reserve_and_read(&*runtime).await.unwrap().unwrap().reserved,
        4
    );
}
