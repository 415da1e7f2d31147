//! One lease: from the acquire to the release (or the loss) of an actor's mailbox, one
//! batch after another.

use std::sync::Arc;

use super::batch::{Batch, Working};
use super::bookkeeping::Bookkeeping;
use super::{ActorHost, DrainOptions, DrainReport};
use crate::actor::Actor;
use crate::clock::millis;
use crate::error::Error;
use crate::id::Address;
use crate::store::{Commit, CommitOutcome, MailboxItem, StateRecord};

/// How one lease ended.
pub(super) enum LeaseEnd {
    Released,
    Busy,
    Fenced,
    Deadline,
}

/// Why a batch stopped taking messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// It took everything the mailbox held: commit and release.
    ReadAll,
    /// The batch filled up, or the lease needs renewing: commit and go on.
    Full,
    /// The invocation's deadline is near: commit, release, hand over.
    Deadline,
}

/// The state of one held lease.
pub(super) struct Lease<'h, A> {
    host: &'h ActorHost<A>,
    address: &'h Arc<Address>,
    options: DrainOptions,
    epoch: u64,
    version: u64,
    lease_until: u64,
    /// Owners before us in a row that stopped without committing or releasing.
    stalls: u32,
    batch_size: usize,
    /// Dead-letter the head message unrun: it was next in `max_attempts` stalls in a row.
    blame_head: bool,
    /// The bookkeeping of the last committed batch.
    book: Bookkeeping,
    working: Working<A>,
}

impl<'h, A: Actor> Lease<'h, A> {
    /// The lease that `record` was acquired with.
    pub(super) fn open(
        host: &'h ActorHost<A>,
        address: &'h Arc<Address>,
        record: StateRecord,
        options: DrainOptions,
    ) -> Result<Self, Error> {
        let config = &host.config;
        // Owners before us that stopped without committing or releasing: crashed, timed
        // out or lost the lease. After one, commit one message at a time for the rest of
        // this lease, so that if a message kills the process, it is the one left at the
        // head; after `max_attempts` in a row, that head is dead-lettered unrun.
        let stalls = record.stalled_leases.saturating_sub(1);
        Ok(Self {
            host,
            address,
            options,
            epoch: record.epoch,
            version: record.version,
            lease_until: record.lease_expires_at,
            stalls,
            batch_size: if stalls > 0 { 1 } else { config.batch_size },
            blame_head: stalls >= config.max_attempts,
            book: Bookkeeping::decode(record.meta.as_deref())?,
            working: Working::load(record.state, &config.limits)?,
        })
    }

    /// Steps 2 to 6 of the protocol, batch after batch, until the lease ends.
    pub(super) async fn run(mut self, report: &mut DrainReport) -> Result<LeaseEnd, Error> {
        let store = &self.host.store;
        // The previous batch's cleanup may not have finished if its owner crashed. Cleanup
        // deletes consumed messages last, so if none of them is left in the mailbox, it
        // finished; the first read below tells, which saves a blind repeat per drain.
        let mut previous_cleanup_unchecked = !self.book.consumed.is_empty();
        loop {
            if self.host.deadline_near(self.options.deadline_millis) {
                store.release(self.address, self.epoch).await?;
                return Ok(LeaseEnd::Deadline);
            }
            let items = store.read_mailbox(self.address, self.batch_size).await?;
            if std::mem::take(&mut previous_cleanup_unchecked) {
                let leftovers = items.iter().any(|i| self.book.consumed.contains(&i.id));
                if leftovers || items.len() >= self.batch_size {
                    self.host.cleanup(self.address, &self.book).await?;
                }
            }
            if items.is_empty() {
                store.release(self.address, self.epoch).await?;
                return Ok(LeaseEnd::Released);
            }
            let (next, outgoing, stop) = self.fill(&items, report).await?;
            let release = stop != Stop::Full;
            if !self.commit(next, outgoing, release, report).await? {
                return Ok(LeaseEnd::Fenced);
            }
            match stop {
                Stop::Deadline => return Ok(LeaseEnd::Deadline),
                Stop::ReadAll => return Ok(LeaseEnd::Released),
                Stop::Full => {}
            }
        }
    }

    /// Applies `items` in order until one of them does not fit the batch.
    async fn fill(
        &mut self,
        items: &[MailboxItem],
        report: &mut DrainReport,
    ) -> Result<(Bookkeeping, Vec<(Address, MailboxItem)>, Stop), Error> {
        let host = self.host;
        let mut stop = if items.len() < self.batch_size {
            Stop::ReadAll
        } else {
            Stop::Full
        };
        let mut batch = Batch::new(host, self.address, &mut self.working, &self.book);
        for item in items {
            if self.book.consumed.contains(&item.id) {
                batch.consumed_before(item.id);
                continue;
            }
            if host.deadline_near(self.options.deadline_millis) {
                stop = Stop::Deadline;
                break;
            }
            if batch.is_full() || host.lease_near_end(self.lease_until) {
                // The commit renews the lease.
                stop = Stop::Full;
                break;
            }
            if std::mem::take(&mut self.blame_head) {
                batch.give_up_unrun(item, self.stalls)?;
            } else {
                batch.apply(item).await?;
            }
        }
        batch.tally.add_to(report);
        Ok((batch.next, batch.outgoing, stop))
    }

    /// Commits the batch (renewing the lease, or releasing it), then nudges the
    /// recipients of its sends and cleans up. `false` when another owner fenced us out.
    async fn commit(
        &mut self,
        next: Bookkeeping,
        outgoing: Vec<(Address, MailboxItem)>,
        release: bool,
        report: &mut DrainReport,
    ) -> Result<bool, Error> {
        let host = self.host;
        let now = host.clock.now_millis();
        let commit = Commit {
            epoch: self.epoch,
            expected_version: self.version,
            state: self.working.snapshot().to_vec(),
            meta: next.encode()?,
            lease_expires_at: if release {
                0
            } else {
                now + millis(host.config.lease)
            },
            outgoing,
        };
        if host.store.commit(self.address, &commit).await? == CommitOutcome::Fenced {
            return Ok(false);
        }
        self.version += 1;
        self.lease_until = commit.lease_expires_at;
        report.batches += 1;
        self.book = next;
        if let Some(wanted) = self.options.reply_for {
            if let Some(reply) = self.book.replies.iter().find(|r| r.id == wanted) {
                report.reply = Some(reply.bytes.clone());
            }
        }
        host.nudge_recipients(&commit.outgoing).await;
        host.cleanup(self.address, &self.book).await?;
        Ok(true)
    }
}
