//! Commits: the version's guard, what a commit writes, where the two stores once
//! differed, and DynamoDB's limits on an item and a transaction.

use super::*;

/// The edges where the two stores wrote the record differently before its transitions
/// were defined once (`store::record`): an abandoned lease leaves no lease behind and no
/// state record (an acquire writes only the lease item), a commit on a missing record
/// lands only as a first commit, and a commit writes the whole record, so the owner
/// token of the acquire is gone after it (an abandon by that token no longer applies).
pub(super) async fn where_the_stores_once_differed(store: &dyn Store) {
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
pub(super) async fn commits(store: &dyn Store) {
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

/// DynamoDB's limits, refused alike by every store with `ItemTooLarge`: a state record
/// over 400 KB, a transaction over 4 MB or over 100 items.
pub(super) async fn limits(store: &dyn Store) {
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
