//! An actor's record over its life: quarantined and lifted, expiring (idle, stopped,
//! a stray record), deleted by TTL.

use super::*;

/// A quarantine lands unless a newer lease committed, and releases the lease; a lift
/// lands on its `since` only, and bumps the version, so no older owner's commit lands
/// after it.
pub(super) async fn quarantine_and_lift(store: &dyn Store) {
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
pub(super) async fn expiry(store: &dyn Store, delete_expired: &DeleteExpired) {
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
