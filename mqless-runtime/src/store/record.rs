//! The `#state` record's transitions, defined once. Each [`Transition`] is a [`Guard`]
//! (when it applies) and a list of [`Change`]s (what it writes), as values: the memory
//! store applies them to a [`StateRecord`] ([`Transition::apply`]), and DynamoDB
//! translates the same values into a condition and an update expression
//! (`aws/dynamodb/transitions.rs`). A new transition or a new field of the record is
//! written here first, and both stores follow; `tests/src/conformance.rs` runs every
//! transition on both.
//!
//! Absent and zero are the same for the lease, the stall count and the owner: a change
//! to 0 removes the attribute on DynamoDB, which keeps the record small.

use super::{Commit, Lift, QuarantineRecord, StateFix, StateRecord};

/// One transition of an actor's record: applied only if its guard holds, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transition<'a> {
    /// When it applies.
    pub(crate) guard: Guard,
    /// What it writes, in order.
    pub(crate) changes: Vec<Change<'a>>,
}

/// When a transition applies. Each guard but [`Guard::LeaseFree`] and
/// [`Guard::MarkLaterThan`] needs the record to exist; those two create a missing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// The record is missing, or its lease is free at `now` (ms): none, or run out.
    LeaseFree {
        /// Milliseconds since the Unix epoch.
        now: u64,
    },
    /// The record's epoch is this one: the lease that names it is the current one.
    Epoch(u64),
    /// The record's epoch and version are these: nothing committed since the lease read it.
    EpochAndVersion {
        /// The lease's epoch.
        epoch: u64,
        /// The version the lease read.
        version: u64,
    },
    /// The lease was taken by this owner token and still counts as stalled: nothing
    /// committed or released it since.
    OwnedBy(u64),
    /// Never committed, at this epoch, and no lease: what a wake-up that found nothing
    /// to do left behind.
    UnusedAt(u64),
    /// Quarantined since this time (ms): not quarantined again since.
    QuarantinedSince(u64),
    /// No mark, or a later one than this time (ms).
    MarkLaterThan(u64),
}

/// One field written by a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change<'a> {
    /// The epoch one higher (from 0 when missing): a new lease fences every older one.
    /// On a missing record this creates it, at version 0.
    BumpEpoch,
    /// The epoch set (a commit writes the whole record, epoch included).
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
}

/// How a transition changes [`StateRecord::stalled_leases`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stalls {
    /// One more (an acquire).
    OneMore,
    /// One fewer (an abandoned acquire gives its count back).
    OneFewer,
    /// Exactly this many.
    Exactly(u32),
}

impl<'a> Transition<'a> {
    /// Takes a free lease until `lease_expires_at` for `owner` (a random token per
    /// acquire, so a retried acquire whose answer was lost recognizes itself).
    pub(crate) fn acquire(now: u64, lease_expires_at: u64, owner: u64) -> Self {
        Self {
            guard: Guard::LeaseFree { now },
            changes: vec![
                Change::BumpEpoch,
                Change::Stalls(Stalls::OneMore),
                Change::Lease(lease_expires_at),
                Change::Owner(owner),
            ],
        }
    }

    /// Ends a batch: the whole record, written if no other lease or commit came between.
    /// The lease stays open (counted as one stalled lease) or is released in the same
    /// write.
    pub(crate) fn commit(commit: &'a Commit) -> Self {
        let leased = commit.lease_expires_at != 0;
        Self {
            guard: Guard::EpochAndVersion {
                epoch: commit.epoch,
                version: commit.expected_version,
            },
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
            ],
        }
    }

    /// Releases the lease of `epoch`, leaving `mark` as the record's due-index entry.
    pub(crate) fn release(epoch: u64, mark: Option<u64>) -> Self {
        Self {
            guard: Guard::Epoch(epoch),
            changes: vec![
                Change::Lease(0),
                Change::Stalls(Stalls::Exactly(0)),
                Change::Owner(0),
                Change::Mark(mark),
            ],
        }
    }

    /// Gives back the lease `owner` took, as if the acquire had not happened (its stall
    /// count too): the owner failed before doing anything with it.
    pub(crate) fn abandon(owner: u64) -> Self {
        Self {
            guard: Guard::OwnedBy(owner),
            changes: vec![Change::Lease(0), Change::Stalls(Stalls::OneFewer)],
        }
    }

    /// Lets the record of a wake-up that found nothing to do expire at `at` (ms).
    pub(crate) fn expire_stub(epoch: u64, at: u64) -> Self {
        Self {
            guard: Guard::UnusedAt(epoch),
            changes: vec![Change::ExpiresAt(Some(at))],
        }
    }

    /// Quarantines the actor whose lease is `epoch`: drains leave it alone, it never
    /// expires, and sweeps skip it.
    pub(crate) fn quarantine(epoch: u64, quarantine: &'a QuarantineRecord) -> Self {
        Self {
            guard: Guard::Epoch(epoch),
            changes: vec![
                Change::Lease(0),
                Change::Stalls(Stalls::Exactly(0)),
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
            guard: Guard::QuarantinedSince(lift.since),
            changes,
        }
    }

    /// Marks the record due at `at` (ms), unless it is marked earlier already.
    pub(crate) fn arm(at: u64) -> Self {
        Self {
            guard: Guard::MarkLaterThan(at),
            changes: vec![Change::Mark(Some(at))],
        }
    }

    /// The record its changes describe, written over nothing: what a store that writes
    /// whole records (DynamoDB's `Put` of a commit) writes. Meaningful for a transition
    /// whose changes name every field, as a commit's do.
    pub(crate) fn written_record(&self) -> StateRecord {
        let mut record = StateRecord::default();
        for change in &self.changes {
            change.apply(&mut record);
        }
        record
    }

    /// Applies the transition to `record` (`None`: missing) if its guard holds; whether
    /// it did.
    pub(crate) fn apply(&self, record: &mut Option<StateRecord>) -> bool {
        if !self.guard.holds(record.as_ref()) {
            return false;
        }
        let record = record.get_or_insert_with(StateRecord::default);
        for change in &self.changes {
            change.apply(record);
        }
        true
    }
}

impl Guard {
    /// Whether the guard holds for `record` (`None`: missing).
    pub(crate) fn holds(self, record: Option<&StateRecord>) -> bool {
        match (self, record) {
            (Guard::LeaseFree { .. } | Guard::MarkLaterThan(_), None) => true,
            (_, None) => false,
            (Guard::LeaseFree { now }, Some(r)) => r.lease_expires_at <= now,
            (Guard::Epoch(epoch), Some(r)) => r.epoch == epoch,
            (Guard::EpochAndVersion { epoch, version }, Some(r)) => {
                r.epoch == epoch && r.version == version
            }
            (Guard::OwnedBy(owner), Some(r)) => {
                r.owner == owner && r.lease_expires_at != 0 && r.stalled_leases > 0
            }
            (Guard::UnusedAt(epoch), Some(r)) => {
                r.version == 0 && r.epoch == epoch && r.lease_expires_at == 0
            }
            (Guard::QuarantinedSince(since), Some(r)) => {
                r.quarantine.as_ref().is_some_and(|q| q.since == since)
            }
            (Guard::MarkLaterThan(at), Some(r)) => r.mark.is_none_or(|mark| mark > at),
        }
    }
}

impl Change<'_> {
    fn apply(&self, r: &mut StateRecord) {
        match *self {
            Change::BumpEpoch => r.epoch += 1,
            Change::Epoch(epoch) => r.epoch = epoch,
            Change::BumpVersion => r.version += 1,
            Change::Version(version) => r.version = version,
            Change::Lease(at) => r.lease_expires_at = at,
            Change::Stalls(Stalls::OneMore) => {
                r.stalled_leases = r.stalled_leases.saturating_add(1)
            }
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
        }
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
    fn guards_that_need_a_record_fail_on_a_missing_one() {
        let commit = commit();
        let needs_one = [
            Transition::commit(&commit),
            Transition::release(1, None),
            Transition::abandon(1),
            Transition::expire_stub(0, 1),
        ];
        for transition in needs_one {
            let mut record = None;
            assert!(!transition.apply(&mut record), "{transition:?}");
            assert_eq!(record, None);
        }
        let mut record = None;
        assert!(Transition::acquire(1, 2, 3).apply(&mut record));
        assert_eq!(record.map(|r| (r.epoch, r.version)), Some((1, 0)));
    }
}
