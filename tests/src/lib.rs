//! Shared helpers of the behaviour tests, one module per concern. The fault layer and
//! the seeded scenario runner for users' actors are the public kit, `mqless::testing`.

pub mod bank;
pub mod cart;
pub mod conformance;
pub mod conversation;
pub mod due_index;
pub mod events;
pub mod fresh_crate;
pub mod in_flight;
pub mod ledger;
pub mod limits;
pub mod local_aws;
pub mod operating;
pub mod quarantine;
pub mod recovery;
pub mod reminders;
pub mod scenario;
pub mod scheduled;

pub use bank::assert_bank_holds;
pub use in_flight::{InFlight, InFlightGuard};

/// A mailbox item carrying `message` (a generated message enum value), for tests that
/// write straight into a store, bypassing the client (and so its nudge).
pub fn mailbox_item<M: serde::Serialize>(message: &M, ask: bool) -> mqless::store::MailboxItem {
    let envelope = mqless::wire::Envelope::new(
        mqless::wire::encode(message, "message", 64 * 1024).unwrap(),
        ask,
        None,
    )
    .encode(&mqless::Limits::DEFAULT)
    .unwrap();
    mqless::store::MailboxItem {
        id: mqless::MessageId::generate(2_000_000_000_000, None),
        envelope,
    }
}

/// The dead letters of actor `id` of type `A`, on any runtime.
pub async fn dead_letters<A: mqless::Actor>(
    actors: &impl mqless::Actors,
    id: &str,
) -> Vec<mqless::recovery::DeadLetter> {
    actors.dead_letters::<A>(id).unwrap().list().await.unwrap()
}

/// The committed state of actor `id` of type `A`, which must have committed.
pub async fn state<A: mqless::Actor>(actors: &impl mqless::Actors, id: &str) -> A {
    actors
        .state::<A>(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{id} has committed no state"))
}

/// The Rust blocks of the README and the guide that the readme test does not build (see
/// `build.rs`), compiled against the workspace's crates.
#[cfg(test)]
mod guide_blocks {
    include!(concat!(env!("OUT_DIR"), "/guide_blocks.rs"));
}
