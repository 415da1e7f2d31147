//! A commit refused for its size (over DynamoDB's item or transaction limit): the same
//! batch would be refused forever, so it is rolled back and retried one message at a
//! time; the message that cannot commit even alone is dead-lettered, and a record that
//! cannot commit without any message quarantines the actor.

use super::{Lease, LeaseEnd};
use crate::actor::Actor;
use crate::error::{Error, StoreError, StoreErrorKind};
use crate::mailbox::batch::Batch;
use crate::mailbox::working_state::WorkingState;
use crate::mailbox::DrainReport;
use crate::store::{CommitOutcome, MailboxItem};

/// Whether a store error says the commit can never land as it is: over DynamoDB's item
/// or transaction limit. Such a batch is retried one message at a time, and a message
/// that cannot commit even alone is dead-lettered.
pub(super) fn refused_for_size(error: &Error) -> Option<&StoreError> {
    match error {
        Error::Store(error) if error.kind == StoreErrorKind::ItemTooLarge => Some(error),
        _ => None,
    }
}

/// The quarantine reason of a record that cannot commit even without a new message.
fn unfit(refusal: &str) -> String {
    format!("the state record cannot be committed even without new messages: {refusal}")
}

impl<A: Actor> Lease<'_, A> {
    /// A commit of a batch of `taken` messages (`head` first) failed with `error`. If
    /// it was refused for its size, the same batch would be refused forever: it is
    /// rolled back and its messages retried one at a time; the one that cannot commit
    /// even alone is dead-lettered, and a record that cannot commit without any message
    /// quarantines the actor. `Some` ends the lease; `None` goes on with the next batch.
    pub(super) async fn refused(
        &mut self,
        error: Error,
        taken: usize,
        head: Option<&MailboxItem>,
        items: &[MailboxItem],
        report: &mut DrainReport,
    ) -> Result<Option<LeaseEnd>, Error> {
        let Some(refusal) = refused_for_size(&error) else {
            return Err(error);
        };
        let refusal = refusal.message.clone();
        report.refused_commits += 1;
        tracing::warn!(actor = %self.address, %refusal, "a commit was refused for its size; retrying one message at a time");
        self.roll_back_batch().await?;
        match (taken, head) {
            (1, Some(head)) => self.refuse(items, head, &refusal, report).await,
            (0, _) | (_, None) => {
                let reason = unfit(&refusal);
                let end = self
                    .host
                    .quarantine(self.address, self.epoch, reason)
                    .await?;
                Ok(Some(end))
            }
            _ => {
                self.batch_size = 1;
                Ok(None)
            }
        }
    }

    /// Restores the state as last committed, dropping a batch that was not committed:
    /// read back from the store (we hold the lease, so it is ours), as refusals are rare
    /// and keeping a second copy of the state for them would cost every lease.
    async fn roll_back_batch(&mut self) -> Result<(), Error> {
        let limits = &self.host.config.limits;
        let now = self.host.clock.now_millis();
        let state = self.host.store.load_state(self.address).await?;
        let stopped = state.as_ref().is_some_and(|r| r.is_expired(now)) || self.book.stopped;
        let state = state.and_then(|r| r.live_state(now).map(<[u8]>::to_vec));
        self.working = WorkingState::load(state, limits)?;
        // A stop committed earlier in this lease stays in force.
        self.working.stopped = stopped;
        Ok(())
    }

    /// Commits `head` dead-lettered unrun, with the reason its own commit was refused.
    /// `None` to go on with the lease; else how it ended (fenced, or quarantined when
    /// even that commit is refused).
    async fn refuse(
        &mut self,
        items: &[MailboxItem],
        head: &MailboxItem,
        refusal: &str,
        report: &mut DrainReport,
    ) -> Result<Option<LeaseEnd>, Error> {
        let mut batch = Batch::new(self.host, self.address, &mut self.working, &self.book);
        for item in items {
            if item.id == head.id {
                let error = format!("its commit was refused, so it was not applied: {refusal}");
                batch.give_up_unrun(head, error, 1)?;
                break;
            }
            // Messages the previous batch consumed stay consumed.
            batch.consumed_before(item.id);
        }
        // Its outgoing messages are at most the dead-letter notice to an asking actor.
        let Batch {
            next,
            tally,
            outgoing,
            ..
        } = batch;
        let mark = self.mark;
        match self
            .commit(
                next,
                super::Writes {
                    outgoing,
                    ..super::Writes::default()
                },
                (false, mark),
                report,
            )
            .await
        {
            Ok(CommitOutcome::Committed | CommitOutcome::CommittedUnknocked) => {
                tally.add_to(report);
                Ok(None)
            }
            Ok(CommitOutcome::Fenced) => Ok(Some(LeaseEnd::Fenced)),
            Err(error) => match refused_for_size(&error) {
                Some(refusal) => {
                    let reason = unfit(&refusal.message);
                    Ok(Some(
                        self.host
                            .quarantine(self.address, self.epoch, reason)
                            .await?,
                    ))
                }
                None => Err(error),
            },
        }
    }
}
