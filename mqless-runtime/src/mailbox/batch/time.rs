//! A batch's part in time: a reminder's fire (stale, a copy, or its chain's, which
//! queues the next), the reminders a handler registers or cancels, and the scheduled
//! messages it cancels, all committed with the batch.

use super::super::reminder::{self, FireKind};
use super::budget::transaction_bytes;
use super::Batch;
use crate::actor::Actor;
use crate::error::Error;
use crate::id::{Address, MessageId};
use crate::schedule::Scheduled;
use crate::store::MailboxItem;
use crate::wire::{Envelope, ReminderSpec};

impl<A: Actor> Batch<'_, A> {
    /// A reminder's fire: drops it when stale (a newer registration or a cancel of its
    /// name), runs a copy of it once (a redriven dead letter), and for the chain's own
    /// fire queues the next, whatever this one's method does, and says whether to run
    /// it (see `reminder::plan`).
    pub(super) fn fire_reminder(
        &mut self,
        item: &MailboxItem,
        envelope: &Envelope,
        spec: &ReminderSpec,
    ) -> Result<bool, Error> {
        let (Some(name), Some(at)) = (envelope.name.as_deref(), envelope.at) else {
            // Not written by MQLess: run it as the plain message it also is.
            return Ok(true);
        };
        match self.next.registry().classify(name, spec, item.id, at) {
            Ok(FireKind::Chain) => {
                let plan = reminder::plan(spec, at, self.host.clock.now_millis());
                self.queue_next_fire(name, envelope, spec, plan.next)?;
                Ok(plan.run)
            }
            Ok(FireKind::Copy) => {
                tracing::debug!(actor = %self.address, reminder = name, message = %item.id, "a copy of a reminder's fire runs once; the reminder goes on from its own queued fire");
                Ok(true)
            }
            Ok(FireKind::Stale) => {
                tracing::debug!(actor = %self.address, reminder = name, "a stale reminder fire is dropped");
                Ok(false)
            }
            Err(error) => {
                self.next.fail(item.id, error, 1);
                self.tally.dead_lettered += 1;
                Ok(false)
            }
        }
    }

    /// Keeps a reminder going past its fire `item`, which is dead-lettered without
    /// running (the stall rule, a refused commit): the next fire is queued as if it ran.
    pub(super) fn continue_past_unrun_fire(
        &mut self,
        item: &MailboxItem,
        envelope: &Envelope,
    ) -> Result<(), Error> {
        let (Some(spec), Some(name), Some(at)) =
            (&envelope.reminder, envelope.name.as_deref(), envelope.at)
        else {
            return Ok(());
        };
        let kind = self.next.registry().classify(name, spec, item.id, at);
        if kind == Ok(FireKind::Chain) {
            let plan = reminder::plan(spec, at, self.host.clock.now_millis());
            self.queue_next_fire(name, envelope, spec, plan.next)?;
        }
        Ok(())
    }

    /// Queues reminder `name`'s next fire (`next`: its time and catch-up count) with
    /// the commit, or ends the reminder when there is none.
    pub(super) fn queue_next_fire(
        &mut self,
        name: &str,
        envelope: &Envelope,
        spec: &ReminderSpec,
        next: Option<(u64, u32)>,
    ) -> Result<(), Error> {
        let Some(next) = next else {
            self.next.registry().chained(name, None);
            return Ok(());
        };
        let fire = reminder::next_fire(envelope, spec, next, &self.host.config.limits)?;
        self.next.registry().chained(name, Some(fire.id));
        let sent = [((**self.address).clone(), fire)];
        self.outgoing_bytes += transaction_bytes(&sent);
        self.outgoing.extend(sent);
        Ok(())
    }

    /// Cancels the scheduled messages to this actor that `which` names, with the commit:
    /// those this batch queued are dropped from it, those in the mailbox are consumed
    /// (deleted by the cleanup, never run, like the batch's own messages).
    pub(super) async fn cancel_scheduled(&mut self, which: &Scheduled) -> Result<(), Error> {
        let limits = self.host.config.limits;
        // Only scheduled messages: an id of an immediate one cancels nothing.
        let named = |item: &MailboxItem| {
            let scheduled = Envelope::decode(&item.envelope, &limits)
                .ok()
                .filter(|envelope| envelope.at.is_some());
            scheduled.is_some_and(|envelope| match which {
                Scheduled::Id(id) => item.id == *id,
                Scheduled::Name(name) => envelope.name.as_ref() == Some(name),
            })
        };
        let me = &**self.address;
        let before = self.outgoing.len();
        self.outgoing
            .retain(|(to, item)| !(to == me && named(item)));
        if self.outgoing.len() != before {
            self.outgoing_bytes = transaction_bytes(&self.outgoing);
        }
        let queued: Vec<MessageId> = self
            .host
            .store
            .read_mailbox(self.address, usize::MAX)
            .await?
            .iter()
            .filter(|item| named(item))
            .map(|item| item.id)
            .collect();
        for id in queued {
            if !self.next.consumed.contains(&id) {
                self.next.consumed.push(id);
            }
        }
        Ok(())
    }

    /// Records the reminders the handler registered on this actor (first fires among
    /// its sends), deleting the queued fires of those they replace.
    pub(super) fn register_own_reminders(&mut self, sent: &[(Address, MailboxItem)]) {
        let limits = self.host.config.limits;
        let me = &**self.address;
        let own = sent.iter().filter(|(to, _)| to == me).map(|(_, item)| item);
        for item in own {
            let Ok(envelope) = Envelope::decode(&item.envelope, &limits) else {
                continue;
            };
            let (Some(spec), Some(name)) = (&envelope.reminder, envelope.name.as_deref()) else {
                continue;
            };
            if let Some(replaced) = self
                .next
                .registry()
                .register(name, spec.registration, item.id)
            {
                self.drop_queued_fire(replaced);
            }
        }
    }

    /// Cancels reminder `name` as of `now`, deleting its queued fire with the commit.
    pub(super) fn cancel_reminder(&mut self, name: &str, now: u64) {
        if let Some(fire) = self.next.registry().cancel(name, now) {
            self.drop_queued_fire(fire);
        }
    }

    /// Deletes a reminder's queued fire with the commit: from this batch's sends if it
    /// is among them, else from the mailbox (consumed, never run).
    pub(super) fn drop_queued_fire(&mut self, fire: MessageId) {
        let me = &**self.address;
        let queued_by_this_batch = self
            .outgoing
            .iter()
            .position(|(to, item)| to == me && item.id == fire);
        match queued_by_this_batch {
            Some(at) => {
                self.outgoing.remove(at);
                self.outgoing_bytes = transaction_bytes(&self.outgoing);
            }
            None if !self.next.consumed.contains(&fire) => self.next.consumed.push(fire),
            None => {}
        }
    }
}
