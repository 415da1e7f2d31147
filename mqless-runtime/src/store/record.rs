//! The actor's record and its transitions, defined once. The record is two items: the
//! **lease** (epoch, lease expiry, stall count, owner token), which an acquire writes,
//! and the **state** (version, state, bookkeeping, expiry, mark, quarantine), which a
//! commit writes. Keeping the lease off the state means taking it costs one small write
//! whatever the state's size (protocol v2; in v1 every acquire rewrote the state).
//!
//! A commit writes the lease's fields too (the epoch that committed; the renewed lease
//! when it goes on), so of the two items the one written by the newer epoch says who
//! holds the lease ([`effective`]); on a tie the state, which its owner wrote last. So a
//! commit that releases needs no write of the lease item, and a record written by
//! protocol v1 (lease fields on the state, no lease item) reads as it always did.
//!
//! Each [`Transition`] writes one item: a [`Guard`] (when it applies) and a list of
//! [`Change`]s (what it writes), as values. The memory store applies them
//! ([`Transition::apply`]); DynamoDB translates the same values into a condition and an
//! update expression (`aws/dynamodb/transitions.rs`). A new transition or field is
//! written here first, and both stores follow; `tests/src/conformance/` runs every
//! transition on both.
//!
//! Absent and zero are the same for the lease, the stall count and the owner: a change
//! to 0 removes the attribute on DynamoDB, which keeps the items small.

use std::time::Duration;

use super::{Acquired, Commit, Lift, QuarantineRecord, StateFix, StateRecord};

/// How long a lease item outlives its lease before DynamoDB's TTL deletes it (free):
/// what a wake-up that found nothing leaves goes away, and the stall count it keeps is
/// only needed while its owners retry, minutes apart. Shorter than a typical idle time
/// to live, so that the state record of an idle actor is rarely deleted before it (the
/// lease item would then count one stall too many at the actor's next message).
pub(crate) const LEASE_ITEM_TIME_TO_LIVE: Duration = Duration::from_secs(3600);

/// Which of an actor's two items a transition writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// The lease item (`#lease` on DynamoDB).
    Lease,
    /// The state record (`#state`).
    State,
}

/// One transition of one of an actor's items: applied only if its guard holds, all or
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transition<'a> {
    /// The item it writes.
    pub(crate) item: ItemKind,
    /// When it applies, judged on that item alone (DynamoDB's conditions see one item).
    pub(crate) guard: Guard,
    /// What it writes, in order.
    pub(crate) changes: Vec<Change<'a>>,
}

/// When a transition applies. [`Guard::Unchanged`]`(None)`, [`Guard::Version`]`(0)`,
/// [`Guard::EpochAtMost`], [`Guard::MarkLaterThan`] and [`Guard::VersionAndMark`]`(0,
/// None)` hold on a missing item (and the transition creates it); the others need it to
/// exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// The lease item is as an acquire read it: missing (`None`) or at this epoch.
    Unchanged(Option<u64>),
    /// The lease item's epoch is this one: the lease that names it is the current one.
    Epoch(u64),
    /// The lease was taken by this owner token and still counts as stalled: nothing
    /// released it since.
    OwnedBy(u64),
    /// The state is at this version (a missing one is at 0): nothing committed since
    /// the committer read it.
    Version(u64),
    /// The state was last written by this epoch or an older one (or is missing): no
    /// newer owner committed.
    EpochAtMost(u64),
    /// Never committed, and no lease on it: what an arm of a stray address left.
    Unused,
    /// Quarantined since this time (ms): not quarantined again since.
    QuarantinedSince(u64),
    /// No mark, or a later one than this time (ms).
    MarkLaterThan(u64),
    /// Marked at exactly this time (ms): nobody armed it since.
    MarkIs(u64),
    /// The state at this version (a missing one is at 0) with this mark (`None`: none):
    /// nobody committed or armed it since a knocker read it.
    VersionAndMark(u64, Option<u64>),
}
/// One field written by a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change<'a> {
    /// The epoch set: the lease's (an acquire's, a release's), or the one that wrote the
    /// state (a commit's, a quarantine's).
    Epoch(u64),
    /// The version one higher.
    BumpVersion,
    /// The version set (a commit: the version it read, plus one).
    Version(u64),
    /// The lease's expiry (ms); 0: no lease.
    Lease(u64),
    /// The count of leases taken since the actor last made progress.
    Stalls(Stalls),
    /// The owner token of the lease; 0: none.
    Owner(u64),
    /// The encoded state; `None`: the actor's `Default`.
    State(Option<&'a [u8]>),
    /// The encoded bookkeeping of the last batch; `None`: none.
    Meta(Option<&'a [u8]>),
    /// When the record expires (ms); `None`: never.
    ExpiresAt(Option<u64>),
    /// The record's entry in the due index (ms); `None`: none.
    Mark(Option<u64>),
    /// The quarantine; `None`: lifted.
    Quarantine(Option<&'a QuarantineRecord>),
    /// Whether a wake-up found the lease held since the last commit (see
    /// [`Transition::knock`]).
    Knocked(bool),
}

/// How a transition changes [`StateRecord::stalled_leases`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stalls {
    /// One fewer (an abandoned acquire gives its count back).
    OneFewer,
    /// Exactly this many.
    Exactly(u32),
}

impl<'a> Transition<'a> {
    /// Takes the lease until `lease_expires_at` for `owner` (a random token per acquire,
    /// so a retried acquire whose answer was lost recognizes itself), given the lease
    /// item and the state as read: `None` when a live owner holds it. The write is to the
    /// lease item only, guarded by its being as read, so two acquirers never both win.
    pub(crate) fn acquire(
        lease: Option<&StateRecord>,
        state: Option<&StateRecord>,
        now: u64,
        lease_expires_at: u64,
        owner: u64,
    ) -> Option<Self> {
        let current = effective(lease, state).unwrap_or_default();
        if current.lease_expires_at > now {
            return None;
        }
        let newest = lease
            .map_or(0, |l| l.epoch)
            .max(state.map_or(0, |s| s.epoch));
        let forget_at =
            lease_expires_at.saturating_add(crate::clock::millis(LEASE_ITEM_TIME_TO_LIVE));
        Some(Self {
            item: ItemKind::Lease,
            guard: Guard::Unchanged(lease.map(|l| l.epoch)),
            changes: vec![
                Change::Epoch(newest + 1),
                Change::Lease(lease_expires_at),
                Change::Stalls(Stalls::Exactly(current.stalled_leases.saturating_add(1))),
                Change::Owner(owner),
                Change::ExpiresAt(Some(forget_at)),
            ],
        })
    }

    /// Ends a batch: the whole state record, written if nothing committed since the
    /// version the batch read. It names the epoch that wrote it, and the lease, open
    /// (counted as one stalled lease) or released in the same write.
    pub(crate) fn commit(commit: &'a Commit) -> Self {
        let leased = commit.lease_expires_at != 0;
        Self {
            item: ItemKind::State,
            guard: Guard::Version(commit.expected_version),
            changes: vec![
                Change::Epoch(commit.epoch),
                Change::Version(commit.expected_version + 1),
                Change::Lease(commit.lease_expires_at),
                Change::Stalls(Stalls::Exactly(u32::from(leased))),
                Change::Owner(0),
                Change::State(Some(&commit.state)),
                Change::Meta(Some(&commit.meta)),
                Change::ExpiresAt(commit.expires_at),
                Change::Mark(commit.mark),
                Change::Quarantine(None),
                Change::Knocked(false),
            ],
        }
    }

    /// Releases the lease of `epoch`: the lease item moves one epoch past it, free, so
    /// it is newer than whatever the state says (a commit of this lease that went on).
    pub(crate) fn release(epoch: u64) -> Self {
        Self {
            item: ItemKind::Lease,
            guard: Guard::Epoch(epoch),
            changes: vec![
                Change::Epoch(epoch + 1),
                Change::Lease(0),
                Change::Stalls(Stalls::Exactly(0)),
                Change::Owner(0),
            ],
        }
    }

    /// Gives back the lease `owner` took, as if the acquire had not happened (its stall
    /// count too): the owner failed before doing anything with it.
    pub(crate) fn abandon(owner: u64) -> Self {
        Self {
            item: ItemKind::Lease,
            guard: Guard::OwnedBy(owner),
            changes: vec![Change::Lease(0), Change::Stalls(Stalls::OneFewer)],
        }
    }

    /// Lets the record expire at `at` (ms; `None`: not until told), unless a commit came
    /// after the one at `version` (see [`Cleanup::expire_record`](super::Cleanup)).
    pub(crate) fn expire(version: u64, at: Option<u64>) -> Self {
        Self {
            item: ItemKind::State,
            guard: Guard::Version(version),
            changes: vec![Change::ExpiresAt(at)],
        }
    }

    /// Lets the state record of a stray address (never committed, left by an arm)
    /// expire at `at` (ms), its mark removed.
    pub(crate) fn expire_stub(at: u64) -> Self {
        Self {
            item: ItemKind::State,
            guard: Guard::Unused,
            changes: vec![Change::Mark(None), Change::ExpiresAt(Some(at))],
        }
    }

    /// Quarantines the actor whose lease is `epoch`: drains leave it alone, it never
    /// expires, and sweeps skip it. Written by that epoch without a lease, so it also
    /// releases the lease.
    pub(crate) fn quarantine(epoch: u64, quarantine: &'a QuarantineRecord) -> Self {
        Self {
            item: ItemKind::State,
            guard: Guard::EpochAtMost(epoch),
            changes: vec![
                Change::Epoch(epoch),
                Change::Lease(0),
                Change::Stalls(Stalls::Exactly(0)),
                Change::Owner(0),
                Change::Quarantine(Some(quarantine)),
                Change::ExpiresAt(None),
                Change::Mark(None),
            ],
        }
    }

    /// Lifts the quarantine `lift` names, fixing the state as it says. The version goes
    /// up, so an owner that read the record before cannot commit over the fix.
    pub(crate) fn lift(lift: &'a Lift) -> Self {
        let mut changes = vec![Change::BumpVersion, Change::Quarantine(None)];
        match &lift.state {
            StateFix::Keep => {}
            StateFix::Replace(bytes) => changes.push(Change::State(Some(bytes))),
            StateFix::Reset => changes.push(Change::State(None)),
        }
        if lift.clear_bookkeeping {
            changes.push(Change::Meta(None));
        }
        Self {
            item: ItemKind::State,
            guard: Guard::QuarantinedSince(lift.since),
            changes,
        }
    }

    /// Marks the record due at `at` (ms), unless it is marked earlier already.
    pub(crate) fn arm(at: u64) -> Self {
        Self {
            item: ItemKind::State,
            guard: Guard::MarkLaterThan(at),
            changes: vec![Change::Mark(Some(at))],
        }
    }

    /// A wake-up found the lease held, on the state record as read (at `version`, with
    /// `mark`): tells the owner, whose next commit finds the knock (and then reads the
    /// mailbox again instead of after every release), and marks the record due at `at`
    /// (ms, the lease's end) unless it is marked earlier, so the sweep resumes the actor
    /// if the owner crashed. Guarded by the version and the mark as read: if the owner
    /// committed since, the knock would go unseen (the knocker takes the lease instead).
    pub(crate) fn knock(version: u64, mark: Option<u64>, at: u64) -> Self {
        let mut changes = vec![Change::Knocked(true)];
        if mark.is_none_or(|mark| mark > at) {
            changes.push(Change::Mark(Some(at)));
        }
        Self {
            item: ItemKind::State,
            guard: Guard::VersionAndMark(version, mark),
            changes,
        }
    }

    /// Removes the mark at `at` (ms), unless somebody armed the record since.
    pub(crate) fn unmark(at: u64) -> Self {
        Self {
            item: ItemKind::State,
            guard: Guard::MarkIs(at),
            changes: vec![Change::Mark(None)],
        }
    }

    /// The record its changes describe, written over nothing: what a store that writes
    /// whole records (DynamoDB's `Put` of a commit) writes. Meaningful for a transition
    /// whose changes name every field, as a commit's do.
    #[cfg(any(feature = "aws", test))]
    pub(crate) fn written_record(&self) -> StateRecord {
        let mut record = StateRecord::default();
        for change in &self.changes {
            change.apply(&mut record);
        }
        record
    }

    /// Applies the transition to its item (`None`: missing) if its guard holds; whether
    /// it did.
    pub(crate) fn apply(&self, item: &mut Option<StateRecord>) -> bool {
        if !self.guard.holds(item.as_ref()) {
            return false;
        }
        let record = item.get_or_insert_with(StateRecord::default);
        for change in &self.changes {
            change.apply(record);
        }
        true
    }
}

/// The actor's record as the protocol sees it, from its lease item and its state record
/// as stored (`None`: missing): the state's fields, with the lease's (epoch, expiry,
/// stall count, owner) from whichever item the newer epoch wrote, the state on a tie.
#[must_use]
pub(crate) fn effective(
    lease: Option<&StateRecord>,
    state: Option<&StateRecord>,
) -> Option<StateRecord> {
    let mut record = match (lease, state) {
        (None, None) => return None,
        (_, Some(state)) => state.clone(),
        (Some(_), None) => StateRecord::default(),
    };
    if let Some(lease) = lease.filter(|l| l.epoch > record.epoch) {
        record.epoch = lease.epoch;
        record.lease_expires_at = lease.lease_expires_at;
        record.stalled_leases = lease.stalled_leases;
        record.owner = lease.owner;
    }
    Some(record)
}

/// What an acquire that found the lease held answers, from the items as read.
pub(crate) fn held(lease: Option<&StateRecord>, state: Option<&StateRecord>) -> Acquired {
    Acquired::Held {
        lease_expires_at: effective(lease, state).map_or(0, |r| r.lease_expires_at),
        mark: state.and_then(|s| s.mark),
        version: state.map_or(0, |s| s.version),
        knocked: state.is_some_and(|s| s.knocked),
    }
}

impl Guard {
    /// Whether the guard holds for `item` (`None`: missing).
    pub(crate) fn holds(self, item: Option<&StateRecord>) -> bool {
        match (self, item) {
            (Guard::Unchanged(read), None) => read.is_none(),
            (Guard::Version(version), None) => version == 0,
            (Guard::VersionAndMark(version, mark), None) => version == 0 && mark.is_none(),
            (Guard::EpochAtMost(_) | Guard::MarkLaterThan(_), None) => true,
            (_, None) => false,
            (Guard::Unchanged(read), Some(r)) => read == Some(r.epoch),
            (Guard::Epoch(epoch), Some(r)) => r.epoch == epoch,
            (Guard::OwnedBy(owner), Some(r)) => {
                r.owner == owner && r.lease_expires_at != 0 && r.stalled_leases > 0
            }
            (Guard::Version(version), Some(r)) => r.version == version,
            (Guard::EpochAtMost(epoch), Some(r)) => r.epoch <= epoch,
            (Guard::Unused, Some(r)) => r.version == 0 && r.lease_expires_at == 0,
            (Guard::QuarantinedSince(since), Some(r)) => {
                r.quarantine.as_ref().is_some_and(|q| q.since == since)
            }
            (Guard::MarkLaterThan(at), Some(r)) => r.mark.is_none_or(|mark| mark > at),
            (Guard::MarkIs(at), Some(r)) => r.mark == Some(at),
            (Guard::VersionAndMark(version, mark), Some(r)) => {
                r.version == version && r.mark == mark
            }
        }
    }
}

impl Change<'_> {
    fn apply(&self, r: &mut StateRecord) {
        match *self {
            Change::Epoch(epoch) => r.epoch = epoch,
            Change::BumpVersion => r.version += 1,
            Change::Version(version) => r.version = version,
            Change::Lease(at) => r.lease_expires_at = at,
            Change::Stalls(Stalls::OneFewer) => {
                r.stalled_leases = r.stalled_leases.saturating_sub(1);
            }
            Change::Stalls(Stalls::Exactly(n)) => r.stalled_leases = n,
            Change::Owner(owner) => r.owner = owner,
            Change::State(bytes) => r.state = bytes.map(<[u8]>::to_vec),
            Change::Meta(bytes) => r.meta = bytes.map(<[u8]>::to_vec),
            Change::ExpiresAt(at) => r.expires_at = at,
            Change::Mark(at) => r.mark = at,
            Change::Quarantine(quarantine) => r.quarantine = quarantine.cloned(),
            Change::Knocked(knocked) => r.knocked = knocked,
        }
    }
}

/// Whether `current`, read after a commit's guard failed, holds exactly what `commit`
/// writes: then that commit landed (its answer was lost, and a retry failed on it), or
/// another owner landed the very same bytes, which is the same outcome.
pub(crate) fn commit_landed(current: Option<&StateRecord>, commit: &Commit) -> bool {
    current.is_some_and(|r| {
        r.epoch == commit.epoch
            && r.version == commit.expected_version + 1
            && r.state.as_deref() == Some(commit.state.as_slice())
            && r.meta.as_deref() == Some(commit.meta.as_slice())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit() -> Commit {
        Commit {
            epoch: 1,
            expected_version: 0,
            state: b"s".to_vec(),
            meta: b"m".to_vec(),
            lease_expires_at: 0,
            outgoing: Vec::new(),
            continued: None,
            expires_at: Some(9),
            mark: None,
            subscriptions: Vec::new(),
        }
    }

    /// Acquires on the two items as a store does; the record the protocol sees after.
    fn acquire(
        lease: &mut Option<StateRecord>,
        state: &Option<StateRecord>,
        now: u64,
        owner: u64,
    ) -> Option<StateRecord> {
        let transition = Transition::acquire(lease.as_ref(), state.as_ref(), now, now + 10, owner)?;
        assert!(transition.apply(lease));
        effective(lease.as_ref(), state.as_ref())
    }

    #[test]
    fn a_commit_writes_every_field_as_a_put_replaces_the_record() {
        // DynamoDB writes a commit as a Put, which drops every attribute it does not
        // name: the memory store, applying the same changes, must end the same.
        let mut record = Some(StateRecord {
            epoch: 1,
            owner: 7,
            lease_expires_at: 5,
            stalled_leases: 3,
            quarantine: Some(QuarantineRecord {
                reason: "r".into(),
                since: 1,
            }),
            mark: Some(4),
            ..StateRecord::default()
        });
        let commit = commit();
        assert!(Transition::commit(&commit).apply(&mut record));
        assert_eq!(
            record,
            Some(StateRecord {
                version: 1,
                epoch: 1,
                state: Some(b"s".to_vec()),
                meta: Some(b"m".to_vec()),
                expires_at: Some(9),
                ..StateRecord::default()
            })
        );
        assert!(commit_landed(record.as_ref(), &commit));
        assert_eq!(record, Some(Transition::commit(&commit).written_record()));
    }

    #[test]
    fn guards_that_need_an_item_fail_on_a_missing_one() {
        let later = Commit {
            expected_version: 1,
            ..commit()
        };
        let needs_one = [
            Transition::release(1),
            Transition::abandon(1),
            Transition::expire_stub(1),
            Transition::unmark(1),
            Transition::commit(&later),
        ];
        for transition in needs_one {
            let mut record = None;
            assert!(!transition.apply(&mut record), "{transition:?}");
            assert_eq!(record, None);
        }
        // A first commit creates the state record: acquires write only the lease item.
        let mut record = None;
        assert!(Transition::commit(&commit()).apply(&mut record));
        assert_eq!(record.map(|r| r.version), Some(1));
    }

    #[test]
    fn a_releasing_commit_frees_the_lease_without_writing_the_lease_item() {
        let (mut lease, mut state) = (None, None);
        let taken = acquire(&mut lease, &state, 100, 7).expect("free");
        assert_eq!((taken.epoch, taken.stalled_leases, taken.owner), (1, 1, 7));
        assert!(Transition::acquire(lease.as_ref(), state.as_ref(), 101, 111, 8).is_none());
        let commit = Commit {
            epoch: taken.epoch,
            ..commit()
        };
        assert!(Transition::commit(&commit).apply(&mut state));
        // The state now names the lease's epoch, released: the next acquire wins and
        // counts no stall.
        let next = acquire(&mut lease, &state, 101, 8).expect("released by the commit");
        assert_eq!((next.epoch, next.stalled_leases), (2, 1));
    }

    #[test]
    fn a_commit_that_goes_on_holds_the_lease_until_a_release() {
        let (mut lease, mut state) = (None, None);
        let taken = acquire(&mut lease, &state, 100, 7).expect("free");
        let commit = Commit {
            epoch: taken.epoch,
            lease_expires_at: 200,
            ..commit()
        };
        assert!(Transition::commit(&commit).apply(&mut state));
        assert!(Transition::acquire(lease.as_ref(), state.as_ref(), 150, 250, 8).is_none());
        // Its owner crashed: past the renewed lease, one stalled lease.
        let after_crash =
            Transition::acquire(lease.as_ref(), state.as_ref(), 200, 300, 8).expect("expired");
        let mut crashed = lease.clone();
        assert!(after_crash.apply(&mut crashed));
        let record = effective(crashed.as_ref(), state.as_ref()).expect("record");
        assert_eq!(record.stalled_leases.saturating_sub(1), 1);
        // Or it released: free at once, no stall.
        assert!(Transition::release(taken.epoch).apply(&mut lease));
        let next = acquire(&mut lease, &state, 150, 9).expect("released");
        assert_eq!(next.stalled_leases, 1);
    }

    #[test]
    fn stalls_count_up_across_crashed_owners_and_abandon_gives_one_back() {
        let (mut lease, state) = (None, None);
        for (now, stalls) in [(100, 1), (200, 2), (300, 3)] {
            let taken = acquire(&mut lease, &state, now, now).expect("expired");
            assert_eq!(taken.stalled_leases, stalls);
        }
        assert!(Transition::abandon(300).apply(&mut lease));
        let next = acquire(&mut lease, &state, 301, 1).expect("abandoned");
        assert_eq!(next.stalled_leases, 3);
    }

    #[test]
    fn a_record_of_protocol_v1_reads_as_it_did() {
        // v1 kept the lease on the state record, and wrote no lease item.
        let state = Some(StateRecord {
            version: 4,
            epoch: 9,
            lease_expires_at: 500,
            stalled_leases: 2,
            owner: 3,
            ..StateRecord::default()
        });
        let mut lease = None;
        assert!(Transition::acquire(None, state.as_ref(), 499, 600, 1).is_none());
        let taken = acquire(&mut lease, &state, 500, 1).expect("expired");
        assert_eq!(
            (taken.epoch, taken.stalled_leases, taken.version),
            (10, 3, 4)
        );
    }
}
