//! Messages an actor sends through its context are committed with its state change:
//! delivered after the commit, discarded when the sending message fails, and kept in the
//! order sent.

use std::sync::Arc;

use mqless::{AskError, Context, Embedded};
use mqless_examples::bank::{Account, BankConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Relay {
    forwarded: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Sink {
    received: Vec<u32>,
}

#[mqless::actor]
impl Relay {
    /// Forwards `n` and `n + 1000` to the sink; refuses odd `n` after sending, which must
    /// discard the sends.
    pub async fn forward(&mut self, n: u32, ctx: &mut Context) -> Result<u32, String> {
        let sink = ctx.actor::<Sink>("sink").map_err(|e| e.to_string())?;
        sink.push(n).send().await.map_err(|e| e.to_string())?;
        sink.push(n + 1000)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        self.forwarded += 1;
        if n % 2 == 1 {
            return Err(format!("{n} is odd"));
        }
        Ok(self.forwarded)
    }
}

#[mqless::actor]
impl Sink {
    pub fn push(&mut self, n: u32) {
        self.received.push(n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_commit_with_the_state_and_vanish_with_a_failure() {
    let runtime = Embedded::new();
    runtime
        .register::<Relay>()
        .unwrap()
        .register::<Sink>()
        .unwrap();
    let relay = runtime.client::<Relay>("r").unwrap();
    for n in 0..20 {
        match relay.forward(n).send().await {
            Ok(_) => {}
            Err(error) => panic!("send failed: {error}"),
        }
    }
    let odd = relay.forward(21).call().await.unwrap_err();
    assert!(matches!(odd, AskError::Handler(ref e) if e == "21 is odd"));
    runtime.settle().await;

    let sink = runtime.state::<Sink>("sink").await.unwrap().unwrap();
    let expected: Vec<u32> = (0..20)
        .filter(|n| n % 2 == 0)
        .flat_map(|n| [n, n + 1000])
        .collect();
    assert_eq!(
        sink.received, expected,
        "only the successful messages' sends, in the order sent"
    );
    assert_eq!(
        mqless_tests::state::<Relay>(&runtime, "r").await.forwarded,
        10
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bank_conserves_money() {
    let runtime = Arc::new(Embedded::new());
    runtime.register::<Account>().unwrap();
    let config = BankConfig {
        accounts: 8,
        tasks: 64,
        operations_per_task: 20,
        ..BankConfig::default()
    };
    mqless_tests::assert_bank_holds(runtime, config).await;
}

/// Who sent the message being handled: another actor's address, or `None` from a
/// client outside the actors.
mod sender {
    use mqless::prelude::*;

    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    pub struct Greeter {
        heard_from: Vec<Option<String>>,
    }

    #[mqless::actor]
    impl Greeter {
        pub fn hello(&mut self, ctx: &mut Context) {
            self.heard_from.push(ctx.sender().map(ToString::to_string));
        }
        pub async fn greet(&mut self, to: String, ctx: &mut Context) -> Result<(), RuntimeError> {
            ctx.actor::<Greeter>(to)?.hello().send().await?;
            Ok(())
        }
        pub fn heard_from(&self) -> Vec<Option<String>> {
            self.heard_from.clone()
        }
    }

    #[tokio::test]
    async fn a_handler_knows_which_actor_sent_its_message() {
        let actors = Embedded::new();
        actors.register::<Greeter>().unwrap();
        let bob = actors.client::<Greeter>("bob").unwrap();
        bob.hello().send().await.unwrap();
        actors
            .client::<Greeter>("alice")
            .unwrap()
            .greet("bob".into())
            .call()
            .await
            .unwrap();
        actors.settle().await;
        assert_eq!(
            bob.heard_from().query().await.unwrap(),
            [None, Some("Greeter/alice".to_owned())]
        );
    }
}

/// Sends from a helper function the `#[actor]` block cannot see.
async fn notify_sink(ctx: &Context, n: u32) -> Result<(), String> {
    let sink = ctx.actor::<Sink>("sink").map_err(|e| e.to_string())?;
    sink.push(n).send().await.map_err(|e| e.to_string())?;
    Ok(())
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Undeclared;

#[mqless::actor]
impl Undeclared {
    pub async fn ping(&mut self, ctx: &mut Context) -> Result<(), String> {
        notify_sink(ctx, 1).await
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Declared;

#[mqless::actor(sends_to(Sink))]
impl Declared {
    pub async fn ping(&mut self, ctx: &mut Context) -> Result<(), String> {
        notify_sink(ctx, 2).await
    }
}

/// What a block sends to is recorded from its bodies (the deploy template's permissions
/// come from it), and a send it does not show is refused until `sends_to` names it.
#[tokio::test]
async fn sends_are_recorded_and_undeclared_ones_refused() {
    use mqless::Actor as _;
    assert_eq!(Relay::SENDS_TO, Some(&["Sink"][..]));
    assert_eq!(Sink::SENDS_TO, Some(&[][..]));
    assert_eq!(Undeclared::SENDS_TO, Some(&[][..]));
    assert_eq!(Declared::SENDS_TO, Some(&["Sink"][..]));
    let mut saga = mqless_examples::saga::Order::SENDS_TO.unwrap().to_vec();
    saga.sort_unstable();
    assert_eq!(saga, ["Order", "Wallet", "Warehouse"]);
    const { assert!(mqless_examples::saga::Order::ASKS_WITH_REPLY_TO) };
    // Publishing (and subscribing) is sending to topics' actors.
    let desk = mqless_examples::order_events::OrderDesk::SENDS_TO.unwrap();
    assert_eq!(desk, ["mqless-topic"]);
    assert_eq!(
        mqless_examples::order_events::Mailer::SENDS_TO.unwrap(),
        ["mqless-topic"],
        "it subscribes one actor at a time"
    );
    const { assert!(!Relay::ASKS_WITH_REPLY_TO) };

    let runtime = Embedded::new();
    for register in [
        Embedded::register::<Undeclared>,
        Embedded::register::<Declared>,
        Embedded::register::<Sink>,
    ] {
        register(&runtime).unwrap();
    }
    let refused = runtime
        .client::<Undeclared>("u")
        .unwrap()
        .ping()
        .call()
        .await;
    let Err(AskError::Handler(error)) = refused else {
        panic!("expected the send to be refused, got {refused:?}");
    };
    assert!(error.contains("#[actor(sends_to(Sink))]"), "{error}");
    runtime
        .client::<Declared>("d")
        .unwrap()
        .ping()
        .call()
        .await
        .unwrap();
    runtime.settle().await;
    assert_eq!(
        runtime
            .state::<Sink>("sink")
            .await
            .unwrap()
            .unwrap()
            .received,
        vec![2]
    );
}
