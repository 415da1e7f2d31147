//! The lease: acquire, races between acquirers, release, the first read beside the
//! acquire, and the knock of a wake-up that finds the lease held.

use super::*;

/// Acquire takes a free or expired lease (epoch up, stalls counted, owner set), never a
/// live one; release frees it for its own epoch only (moving the epoch past it); abandon
/// gives back a lease its owner token took, and only that.
pub(super) async fn leases(store: &dyn Store) {
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
pub(super) async fn racing_acquires(store: &Arc<dyn Store>) {
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
pub(super) async fn releases_after_commits(store: &dyn Store) {
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

/// `acquire_and_read` takes the lease with the mailbox's first messages, in id order
/// (up to the limit); a held lease comes with none.
pub(super) async fn acquires_with_the_first_read(store: &dyn Store) {
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
pub(super) async fn knocks(store: &dyn Store) {
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
