//! After a commit: the batch's recipients woken (or marked for the sweep when that
//! fails), and its replies handed to askers waiting in this process.

use super::bookkeeping::Bookkeeping;
use super::ActorHost;
use crate::actor::Actor;
use crate::id::{Address, MessageId};
use crate::local_replies::ReplySender;
use crate::store::{KeyedBytes, MailboxItem};

/// A committed batch's replies for askers in this process, claimed until its cleanup.
#[derive(Default)]
pub(super) struct LocalAnswers {
    /// The askers waiting here, and their replies.
    pub(super) claimed: Vec<(ReplySender, Vec<u8>)>,
    /// The replies to write to the store instead of the batch's own list, when some
    /// were claimed here; `None`: all of them.
    pub(super) to_write: Option<Vec<KeyedBytes>>,
}

/// The recipients of the messages in `outgoing` that are due at `now` (not scheduled
/// for later), each once in address order, with the first such message to each: the
/// one a failed wake-up marks for the sweep.
fn immediate_recipients(
    outgoing: &[(Address, MailboxItem)],
    now: u64,
) -> Vec<(&Address, MessageId)> {
    let mut recipients: Vec<(&Address, MessageId)> = outgoing
        .iter()
        .filter(|(_, item)| !crate::store::waits(item.id, &item.envelope, now))
        .map(|(to, item)| (to, item.id))
        .collect();
    recipients.sort();
    recipients.dedup_by(|later, first| later.0 == first.0);
    recipients
}

impl<A: Actor> ActorHost<A> {
    /// Claims the channels of the batch's askers waiting in this process, with their
    /// replies, and sets apart the replies still to write to the store (those nobody
    /// here waits for). The caller answers the claimed ones after the cleanup.
    pub(super) fn claim_local_replies(
        &self,
        address: &Address,
        book: &Bookkeeping,
    ) -> LocalAnswers {
        let mut answers = LocalAnswers::default();
        let Some(local) = self.local_replies.as_ref().filter(|l| !l.is_empty()) else {
            return answers;
        };
        if book.replies.is_empty() {
            return answers;
        }
        let mut to_write = Vec::new();
        for reply in &book.replies {
            match local.claim(address, reply.id) {
                Some(asker) => answers.claimed.push((asker, reply.bytes.clone())),
                None => to_write.push(reply.clone()),
            }
        }
        answers.to_write = Some(to_write);
        answers
    }

    pub(super) async fn nudge_recipients(&self, outgoing: &[(Address, MailboxItem)]) {
        let now = self.clock.now_millis();
        for (to, item) in outgoing {
            if crate::store::waits(item.id, &item.envelope, now) {
                if let Err(error) = self.invoker.nudge_at(to, item.id.timestamp_millis()).await {
                    // It is in the due index: the sweep delivers it.
                    tracing::warn!(actor = %to, %error, "a scheduled message waits for the sweep");
                }
            }
        }
        for (to, first) in immediate_recipients(outgoing, now) {
            self.wake(to, first, now).await;
        }
    }

    /// Marks for the sweep the recipients (other than `sender`) of the messages in
    /// `outgoing`, whose commit may have landed though it failed: best effort, as the
    /// audit finds whatever a failed mark leaves. A commit that did not land left no
    /// message, and its mark writes nothing.
    pub(super) async fn mark_recipients(
        &self,
        sender: &Address,
        outgoing: &[(Address, MailboxItem)],
    ) {
        let now = self.clock.now_millis();
        for (to, first) in immediate_recipients(outgoing, now) {
            if to != sender {
                if let Err(error) = self.store.mark_message(to, first, now).await {
                    tracing::warn!(actor = %to, message = %first, %error, "could not mark the recipient of a commit that may have landed; the audit finds it");
                }
            }
        }
    }

    /// Wakes `to`, whose committed messages (the first of them `first`) are durable: if
    /// the wake-up fails, marks that message for the sweep.
    pub(super) async fn wake(&self, to: &Address, first: MessageId, now: u64) {
        if let Err(error) = self.invoker.nudge(to).await {
            crate::store::due::mark_unwoken(&*self.store, to, first, now, &error).await;
        }
    }
}
