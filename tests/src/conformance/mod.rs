//! The store contract, written once and run against every store (the in-memory store
//! and DynamoDB Local, `tests/tests/store_conformance.rs`), so the two cannot drift
//! apart: the `#state` record's transitions (acquire, commit, release, abandon,
//! quarantine, lift, stop, expiry and TTL deletion, a stray record's expiry), what a
//! caller outside an actor reads of its mailbox, a topic's subscriptions (written by
//! topics or by subscribers' commits, paged), and DynamoDB's limits (400 KB per item,
//! 4 MB and 100 items per transaction), which the in-memory store enforces too.

mod commits;
mod leases;
mod lifecycle;
mod mailboxes;
mod subscriptions;

use commits::{commits, limits, where_the_stores_once_differed};
use leases::{
    acquires_with_the_first_read, knocks, leases, racing_acquires, releases_after_commits,
};
use lifecycle::{expiry, quarantine_and_lift};
use mailboxes::mailbox_heads;
use subscriptions::subscriptions;

use std::sync::Arc;

use mqless::error::StoreErrorKind;
use mqless::id::Address;
use mqless::recovery::StateFix;
use mqless::store::{
    Commit, CommitOutcome, Lift, MailboxItem, QuarantineRecord, StateRecord, Store,
    SubscriptionRecord,
};
use mqless::MessageId;

/// Deletes what DynamoDB's TTL would have deleted by `now` (milliseconds): the store's
/// own model of it (`MemoryStore::delete_expired`), or a scan and delete on DynamoDB
/// Local, which has no TTL deletion.
pub type DeleteExpired = Arc<dyn Fn(u64) -> mqless::store::BoxFuture<'static, ()> + Send + Sync>;

/// What DynamoDB's TTL would delete, on the memory store: `MemoryStore::delete_expired`.
#[must_use]
pub fn memory_delete_expired(store: &mqless::store::MemoryStore) -> DeleteExpired {
    let store = store.clone();
    Arc::new(move |now| {
        store.delete_expired(now);
        Box::pin(async {})
    })
}

const NOW: u64 = 1_800_000_000_000;
const LEASE: u64 = 60_000;

/// Runs every contract case against `store`.
pub async fn run(store: Arc<dyn Store>, delete_expired: DeleteExpired) {
    leases(&*store).await;
    racing_acquires(&store).await;
    releases_after_commits(&*store).await;
    where_the_stores_once_differed(&*store).await;
    commits(&*store).await;
    mailbox_heads(&*store).await;
    knocks(&*store).await;
    acquires_with_the_first_read(&*store).await;
    quarantine_and_lift(&*store).await;
    expiry(&*store, &delete_expired).await;
    subscriptions(&*store).await;
    limits(&*store).await;
}

/// A fresh address of its own.
fn address(case: &str) -> Address {
    let id = MessageId::generate(1, None);
    Address::parse(&format!("Conformance/{case}-{id}")).unwrap()
}

/// Takes the lease of `at` (a free or expired one: the case says which it expects).
async fn take(store: &dyn Store, at: &Address, now: u64, until: u64, owner: u64) -> StateRecord {
    taken_or(store, at, now, until, owner, "the lease is free").await
}

/// Takes the lease of `at`, failing with `why` if it is held.
async fn taken_or(
    store: &dyn Store,
    at: &Address,
    now: u64,
    until: u64,
    owner: u64,
    why: &str,
) -> StateRecord {
    store
        .acquire(at, now, until, owner)
        .await
        .unwrap()
        .taken()
        .expect(why)
}

fn commit(epoch: u64, expected_version: u64, lease_expires_at: u64) -> Commit {
    Commit {
        epoch,
        expected_version,
        state: b"state".to_vec(),
        meta: Vec::new(),
        lease_expires_at,
        outgoing: Vec::new(),
        continued: None,
        expires_at: None,
        mark: None,
        subscriptions: Vec::new(),
    }
}

fn message(bytes: usize) -> MailboxItem {
    MailboxItem {
        id: MessageId::generate(NOW, None),
        envelope: vec![7; bytes],
    }
}
