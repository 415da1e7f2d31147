//! What the lease's two steps answer: an acquire (the lease taken, with the record, or
//! held by a live owner) and a commit (fenced, or written, and whether a wake-up knocked
//! meanwhile).

#[cfg(doc)]
use super::Store;
use super::{Commit, StateRecord};

/// What an acquire found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The lease is ours: the record as the acquire left it.
    Taken(StateRecord),
    /// A live owner holds the lease.
    Held {
        /// When its lease runs out (ms since the Unix epoch; 0 if the store cannot say).
        lease_expires_at: u64,
        /// The record's mark (see [`StateRecord::mark`]).
        mark: Option<u64>,
        /// The state record's version as read (see [`Store::knock`]).
        version: u64,
        /// Whether another wake-up knocked since the last commit (see
        /// [`StateRecord::knocked`]): its owner will look at the mailbox again anyway.
        knocked: bool,
    },
}

impl Acquired {
    /// The record, if the lease was taken.
    #[must_use]
    pub fn taken(self) -> Option<StateRecord> {
        match self {
            Self::Taken(record) => Some(record),
            Self::Held { .. } => None,
        }
    }
}

/// Whether a commit landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The state, bookkeeping and outgoing messages were written. A wake-up may have
    /// found the lease held meanwhile: if the commit released the lease, its owner
    /// reads the mailbox once more (a store that cannot tell always answers this).
    Committed,
    /// Written, releasing the lease, and no wake-up knocked (see [`Store::knock`]) since
    /// the last commit: every message queued before the batch read the mailbox was
    /// seen, and any queued since is drained by its own wake-up, so the owner needs no
    /// second look. Answered only for a commit that releases.
    CommittedUnknocked,
    /// Another owner committed since the batch read the record (the version moved):
    /// nothing was written.
    Fenced,
}

impl CommitOutcome {
    /// The outcome of `commit`, written over a record that `knocked` or not.
    #[must_use]
    pub fn written(commit: &Commit, knocked: bool) -> Self {
        if commit.lease_expires_at == 0 && !knocked {
            Self::CommittedUnknocked
        } else {
            Self::Committed
        }
    }

    /// Whether the commit was written (knocked or not).
    #[must_use]
    pub fn landed(self) -> bool {
        matches!(self, Self::Committed | Self::CommittedUnknocked)
    }
}
