//! One lease: from the acquire to the release (or the loss) of an actor's mailbox, one
//! batch after another.

use std::sync::Arc;

use tracing::Instrument as _;

use super::batch::{Batch, Tally, STALLED};
use super::bookkeeping::Bookkeeping;
use super::cleanup::Committed;
use super::working_state::WorkingState;
use super::{ActorHost, DrainOptions, DrainReport};
use crate::actor::Actor;
use crate::clock::millis;
use crate::error::Error;
use crate::id::Address;
use crate::store::{Commit, CommitOutcome, MailboxItem, StateRecord};

mod refusal;
use refusal::refused_for_size;

/// How one lease ended.
pub(super) enum LeaseEnd {
    /// Released. `look_again` unless a commit released it with no knock since the
    /// previous commit (see [`CommitOutcome::CommittedUnknocked`]): a message queued
    /// while the lease was held may have had its wake-up end in `Busy`.
    Released {
        look_again: bool,
    },
    Busy,
    Fenced,
    Deadline,
    /// The actor's own record failed deterministically; it is quarantined, with this reason.
    Quarantined(String),
}

/// Why a lease cannot even start: the actor's own record cannot be read. Retrying cannot
/// help, so the actor is quarantined with this reason.
pub(super) struct Damaged(pub(super) String);

/// What a batch's commit writes besides the actor's record.
#[derive(Default)]
struct Writes {
    /// Messages to other actors (and to itself).
    outgoing: Vec<(Address, MailboxItem)>,
    /// The message that continues at the head of the mailbox.
    continued: Option<MailboxItem>,
    /// Its own subscriptions, where its commit writes them.
    subscriptions: Vec<crate::store::SubscriptionChange>,
}

/// What filling a batch produced, before its commit.
struct Filled {
    next: Bookkeeping,
    writes: Writes,
    stop: Stop,
    tally: Tally,
    /// Messages taken, and the first of them.
    taken: usize,
    head: Option<MailboxItem>,
}

/// How long the record of a wake-up that found nothing (a stray address) is kept.
const STUB_TIME_TO_LIVE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Lets the state record an arm created expire: it was never committed, and the mailbox
/// was empty (a stray wake-up). Best effort: a stub that stays costs storage, nothing
/// worse (its mark is what the sweep reads, and this removes it first).
async fn expire_stub<A: Actor>(host: &ActorHost<A>, address: &Address) {
    let at = host
        .clock
        .now_millis()
        .saturating_add(millis(STUB_TIME_TO_LIVE));
    if let Err(error) = host.store.expire_stub(address, at).await {
        tracing::debug!(actor = %address, %error, "a stray wake-up's record could not be set to expire");
    }
}

/// The expiry a commit writes. A stopped actor's record expires once its batch's cleanup
/// is done (the cleanup sets it: `Bookkeeping::stopped`), so TTL never deletes the record
/// a cut cleanup is repeated from. Else after the idle time to live, but never while an
/// ask it made is open or a reminder of it is live: it is not idle, and their answers and
/// fires need the record (however late they come: a TTL deletion under them would lose
/// them).
fn commit_expiry<A: Actor>(stopped: bool, next: &Bookkeeping, now: u64) -> Option<u64> {
    if stopped || next.tracks_anything() {
        return None;
    }
    A::IDLE_TTL.map(|ttl| now.saturating_add(millis(ttl)))
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
    /// The next message is scheduled for later: commit, release; its timer or the sweep
    /// wakes the actor when it is due.
    Waiting,
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
    /// The record's expiry as the last commit wrote it (or as the lease found it).
    expires_at: Option<u64>,
    working: WorkingState<A>,
    /// The record's mark in the due index as the lease found it: commits that keep the
    /// lease keep it too (a wake-up due if this owner crashes).
    mark: Option<u64>,
}

impl<'h, A: Actor> Lease<'h, A> {
    /// The last committed batch, as its cleanup needs it.
    fn committed(&self) -> Committed<'_> {
        Committed {
            book: &self.book,
            version: self.version,
            expires_at: self.expires_at,
        }
    }

    /// The lease that `record` was acquired with.
    pub(super) fn open(
        host: &'h ActorHost<A>,
        address: &'h Arc<Address>,
        record: StateRecord,
        options: DrainOptions,
    ) -> Result<Self, Damaged> {
        let config = &host.config;
        if let Some(damage) = record.damage {
            return Err(Damaged(format!(
                "the state record was written past MQLess ({damage}); repair or reset it"
            )));
        }
        let book = Bookkeeping::decode(record.meta.as_deref()).map_err(|error| {
            Damaged(format!(
                "the batch bookkeeping (`meta`) does not decode ({error}); lift the quarantine clearing the bookkeeping"
            ))
        })?;
        let now = host.clock.now_millis();
        if record.is_expired(now) {
            tracing::info!(actor = %address, "idle past its time to live: starts from the default state");
        }
        let state = record.live_state(now).map(<[u8]>::to_vec);
        let working = WorkingState::load(state, &config.limits).map_err(|error| {
            Damaged(format!(
                "the committed state does not decode as this version of `{}` ({error}); deploy a version that reads it (see docs/guide/evolving.md), then retry, or repair or reset the state",
                A::TYPE_NAME
            ))
        })?;
        // Owners before us that stopped without committing or releasing: crashed, timed
        // out or lost the lease. After one, commit one message at a time for the rest of
        // this lease, so that if a message kills the process, it is the one left at the
        // head; after `max_attempts` in a row, that head is dead-lettered unrun.
        let stalls = record.stalled_leases.saturating_sub(1);
        // An expired (stopped or idle) actor stays expired until a message changes it;
        // so does one whose stop is committed but not yet expired by its cleanup.
        let mut working = working;
        working.stopped = record.is_expired(now) || book.stopped;
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
            book,
            expires_at: record.expires_at,
            working,
            mark: record.mark,
        })
    }

    /// Ends the lease without a commit (see [`ActorHost::end_lease`]): `hand_off` when
    /// the owner stops at its deadline with messages left.
    async fn release(&mut self, hand_off: bool) -> Result<(), Error> {
        let (host, address) = (self.host, self.address);
        if !hand_off && self.version == 0 && self.mark.is_some() {
            // A stray wake-up of an address that only an arm ever wrote.
            host.store.release(address, self.epoch).await?;
            expire_stub(host, address).await;
            return Ok(());
        }
        host.end_lease(address, self.epoch, self.mark, hand_off)
            .await
    }

    /// Steps 2 to 6 of the protocol, batch after batch, until the lease ends.
    /// `first_read`: the mailbox's first batch (and one more message), read with the
    /// acquire (see `Store::acquire_and_read`).
    pub(super) async fn run(
        mut self,
        first_read: Vec<MailboxItem>,
        report: &mut DrainReport,
    ) -> Result<LeaseEnd, Error> {
        let store = &self.host.store;
        // The previous batch's cleanup may not have finished if its owner crashed. Cleanup
        // deletes consumed messages last, so if none of them is left in the mailbox, it
        // finished; the first read below tells, which saves a blind repeat per drain.
        let mut previous_cleanup_unchecked = !self.book.consumed.is_empty();
        let mut first_read = Some(first_read);
        loop {
            if self.host.deadline_near(self.options.deadline_millis) {
                self.release(true).await?;
                return Ok(LeaseEnd::Deadline);
            }
            // One more than a batch, to know whether a batch holds everything: then its
            // commit releases the lease, and no release of its own follows.
            let limit = self.batch_size.saturating_add(1);
            let mut items = match first_read.take() {
                // After stalls the batch is one message: what was read beyond is left.
                Some(mut read) => {
                    read.truncate(limit);
                    read
                }
                None => store.read_mailbox(self.address, limit).await?,
            };
            let read_all = items.len() <= self.batch_size;
            if std::mem::take(&mut previous_cleanup_unchecked) {
                let leftovers = items.iter().any(|i| self.book.consumed.contains(&i.id));
                if leftovers || !read_all {
                    let batch = self.committed();
                    self.host.cleanup(self.address, batch, None).await?;
                }
            }
            if items.is_empty() {
                self.release(false).await?;
                return Ok(LeaseEnd::Released { look_again: true });
            }
            items.truncate(self.batch_size);
            let filled = self.fill(&items, read_all).await?;
            let stop = filled.stop;
            let nothing_taken = filled.taken == 0 && filled.next.consumed.is_empty();
            if nothing_taken && matches!(stop, Stop::Waiting | Stop::Deadline) {
                // Only messages scheduled for later, or the deadline (or a shutdown) came
                // before the first message: nothing to commit.
                self.release(stop == Stop::Deadline).await?;
                return Ok(if stop == Stop::Deadline {
                    LeaseEnd::Deadline
                } else {
                    LeaseEnd::Released { look_again: true }
                });
            }
            let release = stop != Stop::Full;
            // A commit that releases clears the mark, unless the owner hands off at its
            // deadline: then if the hand-off to a fresh invocation is lost, the sweep
            // resumes the actor.
            let mark = if release {
                (stop == Stop::Deadline).then(|| self.host.clock.now_millis())
            } else {
                self.mark
            };
            // A message to itself is queued by the commit, and nobody wakes it for that.
            let sent_to_itself = filled
                .writes
                .outgoing
                .iter()
                .any(|(to, _)| to == self.address.as_ref());
            let outcome = self
                .commit(filled.next, filled.writes, (release, mark), report)
                .await;
            let look_again = match outcome {
                Ok(CommitOutcome::Fenced) => return Ok(LeaseEnd::Fenced),
                Ok(outcome) => {
                    filled.tally.add_to(report);
                    let knocked = outcome != CommitOutcome::CommittedUnknocked;
                    knocked || sent_to_itself
                }
                Err(error) => {
                    let (taken, head) = (filled.taken, filled.head.as_ref());
                    if let Some(end) = self.refused(error, taken, head, &items, report).await? {
                        return Ok(end);
                    }
                    continue;
                }
            };
            match stop {
                Stop::Deadline => return Ok(LeaseEnd::Deadline),
                Stop::ReadAll | Stop::Waiting => return Ok(LeaseEnd::Released { look_again }),
                Stop::Full => {}
            }
        }
    }

    /// Runs `items`, every message due in the mailbox, and commits them on the version
    /// and epoch the lease was opened with, though no lease was taken (see
    /// `DrainConfig::optimistic`). `None` when nothing committed (fenced, refused, or the
    /// previous batch's cleanup may be unfinished) or when the batch filled up before the
    /// end: the caller takes the lease for the rest.
    pub(super) async fn run_optimistically(
        mut self,
        items: &[MailboxItem],
        read: &[MailboxItem],
        whole_mailbox: bool,
        report: &mut DrainReport,
    ) -> Result<Option<super::DrainEnd>, Error> {
        // The previous batch's messages are consumed only as long as its record says so,
        // and this commit replaces that record: if any of them may still be queued (seen
        // in everything read, due or not, or possibly past what was read), the lease
        // path finishes that cleanup first.
        let leftovers = read
            .iter()
            .any(|item| self.book.consumed.contains(&item.id));
        if leftovers || !whole_mailbox && !self.book.consumed.is_empty() {
            return Ok(None);
        }
        // No lease is held, so there is none to renew: the version decides.
        self.lease_until = u64::MAX;
        let filled = self.fill(items, true).await?;
        if filled.taken == 0 {
            return Ok(None);
        }
        let stop = filled.stop;
        // Only an unmarked record is drained without the lease (see
        // `drain_optimistically`); an arm landing meanwhile is kept by nothing, and the
        // audit finds what it stood for.
        let mark = self.mark;
        match self
            .commit(filled.next, filled.writes, (true, mark), report)
            .await
        {
            Ok(CommitOutcome::Committed | CommitOutcome::CommittedUnknocked) => {
                filled.tally.add_to(report);
                report.optimistic = true;
                Ok(match stop {
                    Stop::ReadAll | Stop::Waiting => Some(super::DrainEnd::Empty),
                    Stop::Deadline => Some(super::DrainEnd::Deadline),
                    Stop::Full => None,
                })
            }
            Ok(CommitOutcome::Fenced) => Ok(None),
            Err(error) if refused_for_size(&error).is_some() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Applies `items` in order until one of them does not fit the batch; `read_all`
    /// when they are everything the mailbox held.
    async fn fill(&mut self, items: &[MailboxItem], read_all: bool) -> Result<Filled, Error> {
        let span = tracing::debug_span!("batch", actor = %self.address, read = items.len());
        self.fill_batch(items, read_all).instrument(span).await
    }

    async fn fill_batch(&mut self, items: &[MailboxItem], read_all: bool) -> Result<Filled, Error> {
        let host = self.host;
        let mut stop = if read_all { Stop::ReadAll } else { Stop::Full };
        let mut head = None;
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
            if super::waiting(item, host.clock.now_millis()) {
                stop = Stop::Waiting;
                break;
            }
            if batch.is_full() || host.lease_near_end(self.lease_until) {
                // The commit renews the lease.
                stop = Stop::Full;
                break;
            }
            if head.is_none() {
                head = Some(item.clone());
            }
            if std::mem::take(&mut self.blame_head) {
                batch.give_up_unrun(item, format!("{} {STALLED}", self.stalls), self.stalls)?;
            } else {
                batch.apply(item).await?;
            }
        }
        if batch.continued.is_some() && stop != Stop::Deadline {
            // The continued message is queued again: go on with it, do not release.
            stop = Stop::Full;
        }
        let Batch {
            next,
            outgoing,
            continued,
            subscriptions,
            tally,
            taken,
            ..
        } = batch;
        Ok(Filled {
            next,
            writes: Writes {
                outgoing,
                continued,
                subscriptions,
            },
            stop,
            tally,
            taken,
            head,
        })
    }

    /// Commits the batch (renewing the lease, or releasing it, with the record's mark
    /// in the due index after it), then nudges the recipients of its sends and cleans
    /// up. How it landed: fenced out by another owner, or committed (and whether a
    /// wake-up knocked meanwhile).
    async fn commit(
        &mut self,
        mut next: Bookkeeping,
        writes: Writes,
        (release, mark): (bool, Option<u64>),
        report: &mut DrainReport,
    ) -> Result<CommitOutcome, Error> {
        let host = self.host;
        let now = host.clock.now_millis();
        next.stopped = self.working.stopped;
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
            outgoing: writes.outgoing,
            continued: writes.continued,
            expires_at: commit_expiry::<A>(self.working.stopped, &next, now),
            mark,
            subscriptions: writes.subscriptions,
        };
        let outcome = match host.store.commit(self.address, &commit).await {
            Ok(CommitOutcome::Fenced) => return Ok(CommitOutcome::Fenced),
            Ok(landed) => landed,
            Err(error) => {
                // The commit may have landed with its answer lost, its sends with it:
                // nobody would wake their recipients, so mark them for the sweep.
                host.mark_recipients(self.address, &commit.outgoing).await;
                return Err(error.into());
            }
        };
        self.version += 1;
        self.lease_until = commit.lease_expires_at;
        self.expires_at = commit.expires_at;
        self.mark = commit.mark;
        report.batches += 1;
        if self.working.stopped && commit.lease_expires_at == 0 {
            // The state record may be deleted (by its time to live) at once, and the lease
            // item would then speak for the actor with this lease, as if still held: free
            // it too. Best effort: it expires anyway.
            let _ = host.store.release(self.address, self.epoch).await;
        }
        self.book = next;
        if let Some(wanted) = self.options.reply_for {
            if let Some(reply) = self.book.replies.iter().find(|r| r.id == wanted) {
                report.reply = Some(reply.bytes.clone());
            }
        }
        let local = host.claim_local_replies(self.address, &self.book);
        host.nudge_recipients(&commit.outgoing).await;
        let cleaned = host
            .cleanup(self.address, self.committed(), local.to_write.as_deref())
            .await;
        // Askers in this process hear back once their messages are deleted, so an
        // answered ask leaves nothing pending; the reply is committed either way. One
        // that stopped waiting meanwhile (timed out) has had its answer: TimedOut.
        for (asker, reply) in local.claimed {
            let _ = asker.send(reply);
        }
        cleaned?;
        Ok(outcome)
    }
}
