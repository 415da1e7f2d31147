//! The store contract, written once and run against every store (the in-memory store
//! and DynamoDB Local, `tests/tests/store_conformance.rs`), so the two cannot drift
//! apart: the `#state` record's transitions (acquire, commit, release, abandon,
//! quarantine, lift, stop, expiry and TTL deletion, a stray record's expiry), the
//! paging of a topic's subscriptions, and DynamoDB's limits (400 KB per item, 4 MB and
//! 100 items per transaction), which the in-memory store enforces too.

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
    knocks(&*store).await;
    acquires_with_the_first_read(&*store).await;
    quarantine_and_lift(&*store).await;
    expiry(&*store, &delete_expired).await;
    subscription_paging(&*store).await;
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
    }
}

fn message(bytes: usize) -> MailboxItem {
    MailboxItem {
        id: MessageId::generate(NOW, None),
        envelope: vec![7; bytes],
    }
}

/// Acquire takes a free or expired lease (epoch up, stalls counted, owner set), never a
/// live one; release frees it for its own epoch only (moving the epoch past it); abandon
/// gives back a lease its owner token took, and only that.
async fn leases(store: &dyn Store) {
    let at = address("leases");
    let first = store
        .acquire(&at, NOW, NOW + LEASE, 11)
        .await
        .unwrap()
        .taken();
    let first = first.expect("a missing record is created and leased");
    assert_eq!(
        (
            first.epoch,
            first.version,
            first.stalled_leases,
            first.owner
        ),
        (1, 0, 1, 11)
    );
    let live = store
        .acquire(&at, NOW + 1, NOW + LEASE, 12)
        .await
        .unwrap()
        .taken();
    assert!(live.is_none(), "a live lease is not taken");
    let expired = taken_or(
        store,
        &at,
        NOW + LEASE,
        NOW + 2 * LEASE,
        13,
        "an expired lease is taken",
    )
    .await;
    assert_eq!((expired.epoch, expired.stalled_leases), (2, 2));
    store.release(&at, 1).await.unwrap();
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!(
        record.lease_expires_at,
        NOW + 2 * LEASE,
        "a stale release does nothing"
    );
    store.release(&at, 2).await.unwrap();
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!((record.lease_expires_at, record.stalled_leases), (0, 0));
    let third = take(store, &at, NOW, NOW + LEASE, 14).await;
    assert_eq!((third.epoch, third.stalled_leases), (4, 1));
    store.abandon(&at, 99).await.unwrap();
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!(
        record.lease_expires_at,
        NOW + LEASE,
        "another owner's abandon does nothing"
    );
    store.abandon(&at, 14).await.unwrap();
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!(
        (record.lease_expires_at, record.stalled_leases),
        (0, 0),
        "the owner's lease is given back, its stall uncounted"
    );
}

/// Acquires racing for the same lease: exactly one wins, on a new actor, after an
/// expired lease, and after a commit that released (an acquire reads the record, then
/// writes the lease item only if it is still as read).
async fn racing_acquires(store: &Arc<dyn Store>) {
    let at = address("racing");
    let race = |now: u64| {
        let tasks: Vec<_> = (0..16u64)
            .map(|owner| {
                let (store, at) = (store.clone(), at.clone());
                tokio::spawn(async move { store.acquire(&at, now, now + LEASE, 100 + owner).await })
            })
            .collect();
        async move {
            let mut won = Vec::new();
            for task in tasks {
                if let Some(record) = task.await.unwrap().unwrap().taken() {
                    won.push(record);
                }
            }
            won
        }
    };
    let won = race(NOW).await;
    assert_eq!(won.len(), 1, "a new actor: {won:?}");
    let won = race(NOW + LEASE).await;
    assert_eq!(won.len(), 1, "an expired lease: {won:?}");
    let owner = &won[0];
    let released = commit(owner.epoch, owner.version, 0);
    assert!(store.commit(&at, &released).await.unwrap().landed());
    let won = race(NOW + LEASE + 1).await;
    assert_eq!(won.len(), 1, "after a releasing commit: {won:?}");
}

/// A commit that releases frees the lease without a release; a commit that goes on holds
/// it (renewed) until its owner's release, which frees it at once.
async fn releases_after_commits(store: &dyn Store) {
    let at = address("release-after-commit");
    let first = take(store, &at, NOW, NOW + LEASE, 31).await;
    let released = commit(first.epoch, 0, 0);
    assert!(store.commit(&at, &released).await.unwrap().landed());
    let second = taken_or(
        store,
        &at,
        NOW + 1,
        NOW + LEASE,
        32,
        "a releasing commit freed the lease",
    )
    .await;
    assert_eq!((second.stalled_leases, second.version), (1, 1));
    let going_on = commit(second.epoch, 1, NOW + 2 * LEASE);
    assert!(store.commit(&at, &going_on).await.unwrap().landed());
    assert!(
        store
            .acquire(&at, NOW + LEASE + 1, NOW + 2 * LEASE, 33)
            .await
            .unwrap()
            .taken()
            .is_none(),
        "the commit renewed the lease"
    );
    store.release(&at, second.epoch).await.unwrap();
    let third = taken_or(
        store,
        &at,
        NOW + LEASE + 2,
        NOW + 2 * LEASE,
        34,
        "the release freed it",
    )
    .await;
    assert_eq!((third.stalled_leases, third.version), (1, 2));
}

/// The edges where the two stores wrote the record differently before its transitions
/// were defined once (`store::record`): an abandoned lease leaves no lease behind and no
/// state record (an acquire writes only the lease item), a commit on a missing record
/// lands only as a first commit, and a commit writes the whole record, so the owner
/// token of the acquire is gone after it (an abandon by that token no longer applies).
async fn where_the_stores_once_differed(store: &dyn Store) {
    let at = address("abandoned-stub");
    take(store, &at, NOW, NOW + LEASE, 21).await;
    store.abandon(&at, 21).await.unwrap();
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!(
        (
            record.lease_expires_at,
            record.stalled_leases,
            record.version
        ),
        (0, 0, 0),
        "an abandoned acquire leaves neither a lease nor a stall"
    );

    let missing = address("commit-on-nothing");
    assert_eq!(
        store.commit(&missing, &commit(1, 1, 0)).await.unwrap(),
        CommitOutcome::Fenced,
        "a missing record is at version 0"
    );
    assert_eq!(store.load_state(&missing).await.unwrap(), None);
    assert_eq!(
        store.commit(&missing, &commit(1, 0, 0)).await.unwrap(),
        CommitOutcome::CommittedUnknocked,
        "a first commit creates the record (and no wake-up knocked)"
    );

    let at = address("commit-then-abandon");
    let taken = take(store, &at, NOW, NOW + LEASE, 22).await;
    let kept_lease = commit(taken.epoch, 0, NOW + LEASE);
    assert!(store.commit(&at, &kept_lease).await.unwrap().landed());
    store.abandon(&at, 22).await.unwrap();
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!(
        (record.owner, record.lease_expires_at, record.stalled_leases),
        (0, NOW + LEASE, 1),
        "after a commit, the acquire's token abandons nothing"
    );
}

/// A commit lands only on its epoch and version, with its outgoing messages and its
/// continued message atomically; a commit that keeps the lease counts one stall, one
/// that releases none.
async fn commits(store: &dyn Store) {
    let at = address("commits");
    let peer = address("commits-peer");
    let record = take(store, &at, NOW, NOW + LEASE, 1).await;
    let head = message(16);
    store.enqueue(&at, &head).await.unwrap();
    let outgoing = message(32);
    let mut first = commit(record.epoch, 0, NOW + LEASE);
    first.outgoing = vec![(peer.clone(), outgoing.clone())];
    first.continued = Some(MailboxItem {
        id: head.id,
        envelope: b"next step".to_vec(),
    });
    assert!(store.commit(&at, &first).await.unwrap().landed());
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!((record.version, record.stalled_leases), (1, 1));
    assert_eq!(record.state.as_deref(), Some(&b"state"[..]));
    assert_eq!(store.read_mailbox(&peer, 10).await.unwrap(), [outgoing]);
    let mailbox = store.read_mailbox(&at, 10).await.unwrap();
    assert_eq!(mailbox.len(), 1);
    assert_eq!(
        (mailbox[0].id, mailbox[0].envelope.as_slice()),
        (head.id, &b"next step"[..]),
        "the continued message is rewritten in place"
    );
    // Another owner's batch (other bytes) on a stale version is fenced. (The same bytes
    // would count as committed: that is how a retried write that landed recognizes
    // itself, and the outcome is the same.)
    let mut stale_version = commit(record.epoch, 0, 0);
    stale_version.state = b"another owner's".to_vec();
    assert_eq!(
        store.commit(&at, &stale_version).await.unwrap(),
        CommitOutcome::Fenced
    );
    assert_eq!(
        store
            .commit(&at, &commit(record.epoch, 0, NOW + LEASE))
            .await
            .unwrap(),
        CommitOutcome::Committed,
        "the record holds exactly this commit"
    );
    // The epoch does not fence (protocol v2): a newer lease's owner whose batch read
    // this version commits, and the owner it replaced is fenced on the version.
    let mut newer_lease = commit(record.epoch + 1, 1, 0);
    newer_lease.state = b"a newer owner's".to_vec();
    assert!(store.commit(&at, &newer_lease).await.unwrap().landed());
    assert_eq!(
        store
            .commit(&at, &commit(record.epoch, 1, 0))
            .await
            .unwrap(),
        CommitOutcome::Fenced
    );
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!(
        (
            record.version,
            record.lease_expires_at,
            record.stalled_leases
        ),
        (2, 0, 0)
    );
}

/// `acquire_and_read` takes the lease with the mailbox's first messages, in id order
/// (up to the limit); a held lease comes with none.
async fn acquires_with_the_first_read(store: &dyn Store) {
    let at = address("acquire-and-read");
    let queued: Vec<MailboxItem> = (0..3).map(|_| message(8)).collect();
    for item in &queued {
        store.enqueue(&at, item).await.unwrap();
    }
    let (taken, read) = store
        .acquire_and_read(&at, NOW, NOW + LEASE, 51, 2)
        .await
        .unwrap();
    assert!(taken.taken().is_some(), "a free lease is taken");
    assert_eq!(read, queued[..2], "the first two messages, in id order");
    let (held, read) = store
        .acquire_and_read(&at, NOW + 1, NOW + LEASE, 52, 2)
        .await
        .unwrap();
    assert!(held.taken().is_none(), "a live lease is held");
    assert!(
        read.is_empty(),
        "nothing is read for a wake-up that found it held"
    );
}

/// A wake-up that finds the lease held knocks on the state record as it read it
/// (version and mark), arming it for the sweep at the lease's end unless it is marked
/// earlier; the owner's next releasing commit reports the knock (`Committed`), one with
/// no knock since the last commit `CommittedUnknocked`. A knock on a record that moved
/// since the read writes nothing.
async fn knocks(store: &dyn Store) {
    let at = address("knocks");
    let owner = take(store, &at, NOW, NOW + LEASE, 41).await;
    let held = store.acquire(&at, NOW + 1, NOW + LEASE, 42).await.unwrap();
    let mqless::store::Acquired::Held {
        version,
        knocked,
        mark,
        ..
    } = held
    else {
        panic!("a live lease is held: {held:?}");
    };
    assert_eq!((version, knocked, mark), (0, false, None));
    assert!(
        store.knock(&at, version, mark, NOW + LEASE).await.unwrap(),
        "a knock on a missing state record creates it"
    );
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!((record.knocked, record.mark), (true, Some(NOW + LEASE)));
    assert!(
        !store.knock(&at, 0, None, NOW + LEASE).await.unwrap(),
        "the mark moved since that read"
    );
    assert!(
        store
            .knock(&at, 0, Some(NOW + LEASE), NOW + 2 * LEASE)
            .await
            .unwrap(),
        "a knock again, as read"
    );
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!(record.mark, Some(NOW + LEASE), "an earlier mark stays");

    let mut released = commit(owner.epoch, 0, 0);
    released.mark = None;
    assert_eq!(
        store.commit(&at, &released).await.unwrap(),
        CommitOutcome::Committed,
        "the owner learns of the knock"
    );
    let record = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!(
        (record.knocked, record.mark),
        (false, None),
        "the commit clears both"
    );
    assert!(
        !store.knock(&at, 0, None, NOW + LEASE).await.unwrap(),
        "a knock after the commit it was meant for writes nothing"
    );

    let second = take(store, &at, NOW + 2, NOW + LEASE, 43).await;
    let going_on = commit(second.epoch, 1, NOW + LEASE);
    assert_eq!(
        store.commit(&at, &going_on).await.unwrap(),
        CommitOutcome::Committed,
        "a commit that keeps the lease does not say"
    );
    let last = commit(second.epoch, 2, 0);
    assert_eq!(
        store.commit(&at, &last).await.unwrap(),
        CommitOutcome::CommittedUnknocked,
        "nobody knocked since the last commit"
    );
}

/// A quarantine lands unless a newer lease committed, and releases the lease; a lift
/// lands on its `since` only, and bumps the version, so no older owner's commit lands
/// after it.
async fn quarantine_and_lift(store: &dyn Store) {
    let at = address("quarantine");
    let first = take(store, &at, NOW, NOW + LEASE, 1).await;
    let reason = QuarantineRecord {
        reason: "it broke".into(),
        since: NOW,
    };
    assert!(store.quarantine(&at, first.epoch, &reason).await.unwrap());
    let lift = |since| Lift {
        since,
        state: StateFix::Keep,
        clear_bookkeeping: false,
    };
    assert!(store.lift_quarantine(&at, &lift(NOW)).await.unwrap());
    let record = take(store, &at, NOW, NOW + LEASE, 2).await;
    assert!(store
        .commit(&at, &commit(record.epoch, record.version, NOW + LEASE))
        .await
        .unwrap()
        .landed());
    assert!(
        !store.quarantine(&at, first.epoch, &reason).await.unwrap(),
        "a newer lease committed since"
    );
    assert!(store.quarantine(&at, record.epoch, &reason).await.unwrap());
    let quarantined = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!(quarantined.quarantine.as_ref(), Some(&reason));
    assert_eq!(quarantined.lease_expires_at, 0);
    assert!(!store.lift_quarantine(&at, &lift(NOW + 1)).await.unwrap());
    assert!(store.lift_quarantine(&at, &lift(NOW)).await.unwrap());
    let lifted = store.load_state(&at).await.unwrap().unwrap();
    assert_eq!(
        (lifted.quarantine, lifted.version),
        (None, quarantined.version + 1)
    );
    let mut older = commit(record.epoch, quarantined.version, 0);
    assert_eq!(quarantined.version, record.version + 1);
    older.state = b"an older owner's".to_vec();
    assert_eq!(
        store.commit(&at, &older).await.unwrap(),
        CommitOutcome::Fenced
    );
}

/// A stopped record (expiring at once) reads as expired, and once TTL deletes it the
/// next acquire starts a fresh one. A stray record (never committed) may be set to
/// expire; a committed one may not.
async fn expiry(store: &dyn Store, delete_expired: &DeleteExpired) {
    let stopped = address("stopped");
    let record = take(store, &stopped, NOW, NOW + LEASE, 1).await;
    let mut stop = commit(record.epoch, 0, 0);
    stop.expires_at = Some(NOW);
    assert!(store.commit(&stopped, &stop).await.unwrap().landed());
    let record = store.load_state(&stopped).await.unwrap().unwrap();
    assert!(record.is_expired(NOW) && record.live_state(NOW).is_none());
    // A drain that stops its actor frees the lease item too (see `Lease::commit`): the
    // record may be deleted at once, and the lease item would then speak for the actor
    // with a lease still live.
    store.release(&stopped, record.epoch).await.unwrap();

    // A stray record: an arm of an address nothing was ever sent to.
    let stray = address("stray");
    store.arm(&stray, NOW + 5).await.unwrap();
    store.expire_stub(&stray, NOW + 1_000).await.unwrap();
    let stub = store.load_state(&stray).await.unwrap().unwrap();
    assert_eq!(
        (stub.expires_at.map(|at| at.div_ceil(1000)), stub.mark),
        (Some((NOW + 1_000).div_ceil(1000)), None)
    );
    let kept = address("kept");
    let record = take(store, &kept, NOW, NOW + LEASE, 3).await;
    assert!(store
        .commit(&kept, &commit(record.epoch, 0, 0))
        .await
        .unwrap()
        .landed());
    store.expire_stub(&kept, NOW + 1_000).await.unwrap();
    assert_eq!(
        store.load_state(&kept).await.unwrap().unwrap().expires_at,
        None
    );

    delete_expired(NOW + 2_000).await;
    let deleted = store.load_state(&stopped).await.unwrap();
    assert!(
        deleted.is_none_or(|r| r.version == 0 && r.state.is_none()),
        "TTL deleted it (its lease item expires a day after its lease)"
    );
    assert!(
        store.load_state(&stray).await.unwrap().is_none(),
        "TTL deleted it"
    );
    assert!(store.load_state(&kept).await.unwrap().is_some());
    let fresh = take(store, &stopped, NOW, NOW + LEASE, 4).await;
    assert_eq!(
        (fresh.epoch, fresh.version, fresh.state),
        (3, 0, None),
        "the lease item, still there, keeps the epochs going up"
    );
}

/// Paging a topic's subscriptions returns every live one once, in key order, whatever
/// the page size and the tombstones of removed ones among them.
async fn subscription_paging(store: &dyn Store) {
    let topic = Address::parse(&format!(
        "mqless-topic/conformance-{}",
        MessageId::generate(1, None)
    ))
    .unwrap();
    let mut live = Vec::new();
    for i in 0..12 {
        let record = SubscriptionRecord {
            subscriber: Address::parse(&format!("Watcher/w{i:02}")).unwrap(),
            method: "on_event".into(),
            argument: "event".into(),
            pattern: None,
        };
        let by = MessageId::generate(NOW, None);
        store
            .write_subscription(&topic, &record.key(), Some(&record), by)
            .await
            .unwrap();
        if i % 3 == 1 {
            let removed = MessageId::generate(NOW, None);
            store
                .write_subscription(&topic, &record.key(), None, removed)
                .await
                .unwrap();
        } else {
            live.push(record.key());
        }
    }
    for page_size in [1, 2, 5, 50] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .subscriptions(&topic, after.as_deref(), page_size)
                .await
                .unwrap();
            assert!(page.subscriptions.len() <= page_size);
            seen.extend(page.subscriptions.iter().map(SubscriptionRecord::key));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, live, "pages of {page_size}");
    }
}

/// DynamoDB's limits, refused alike by every store with `ItemTooLarge`: a state record
/// over 400 KB, a transaction over 4 MB or over 100 items.
async fn limits(store: &dyn Store) {
    let at = address("limits");
    let peer = address("limits-peer");
    let record = take(store, &at, NOW, NOW + LEASE, 1).await;
    let target = &at;
    let refused = |commit: Commit| async move {
        let error = store.commit(target, &commit).await.unwrap_err();
        assert_eq!(error.kind, StoreErrorKind::ItemTooLarge, "{error}");
        error.message
    };
    let mut big_state = commit(record.epoch, 0, 0);
    big_state.state = vec![0; 401 * 1024];
    assert!(refused(big_state).await.contains("409600-byte item limit"));
    let mut big_transaction = commit(record.epoch, 0, 0);
    big_transaction.outgoing = (0..70)
        .map(|_| (peer.clone(), message(64 * 1024)))
        .collect();
    assert!(refused(big_transaction)
        .await
        .contains("4194304-byte transaction limit"));
    let mut many = commit(record.epoch, 0, 0);
    many.outgoing = (0..100).map(|_| (peer.clone(), message(16))).collect();
    assert!(refused(many.clone())
        .await
        .contains("100-item transaction limit"));
    many.outgoing.truncate(99);
    assert!(store.commit(&at, &many).await.unwrap().landed());
    assert_eq!(store.read_mailbox(&peer, 200).await.unwrap().len(), 99);
}
