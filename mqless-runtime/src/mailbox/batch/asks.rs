//! A batch's answers: the reply to an asker outside the actors, the reply message to an
//! asking actor, and the bookkeeping of this actor's own open asks.

use super::budget::transaction_bytes;
use super::{Batch, MAX_AWAITING};
use crate::actor::Actor;
use crate::error::Error;
use crate::id::{Address, MessageId};
use crate::reply;
use crate::store::MailboxItem;
use crate::wire::{Envelope, ReplyRecord, ReplyTo};

impl<A: Actor> Batch<'_, A> {
    /// Tells the sender how message `id` ended: in a reply record for an asker waiting
    /// outside the actors, or as a message to the asking actor's reply method.
    pub(super) fn answer(
        &mut self,
        id: MessageId,
        envelope: &Envelope,
        outcome: &ReplyRecord,
    ) -> Result<(), Error> {
        if envelope.ask {
            self.next.reply(id, outcome, envelope.asker.as_deref())?;
        }
        if let Some(route) = &envelope.reply_to {
            match self.reply_message(route, outcome) {
                Ok(sent) => {
                    self.outgoing_bytes += transaction_bytes(std::slice::from_ref(&sent));
                    self.outgoing.push(sent);
                }
                // Only a route written past the client gets here: its asker times out.
                Err(error) => {
                    tracing::warn!(actor = %self.address, message = %id, %error, "the reply to an actor's ask cannot be sent; the asker gets its timeout");
                }
            }
        }
        Ok(())
    }

    /// The message that carries `outcome` to the asker `route` names, next in this
    /// actor's sequence of sends.
    pub(super) fn reply_message(
        &mut self,
        route: &ReplyTo,
        outcome: &ReplyRecord,
    ) -> Result<(Address, MailboxItem), Error> {
        let limits = self.host.config.limits;
        let to = Address::parse(&route.to)?;
        let slot = (route.slot as usize, route.len as usize);
        let body = reply::fill(&route.body, slot, &reply::encode_outcome(outcome)?, &limits)?;
        let envelope = Envelope {
            answers: Some(route.ask),
            from: Some(self.address.to_string()),
            ..Envelope::new(body, false, None)
        };
        let id = MessageId::generate(self.host.clock.now_millis(), self.next.last_sent);
        self.next.last_sent = Some(id);
        let envelope = envelope.encode(&limits)?;
        Ok((to, MailboxItem { id, envelope }))
    }

    /// Closes the ask whose timeout message is `ask`, answered by message `by`: a reply
    /// also deletes the timeout, which then never wakes the actor.
    pub(super) fn settle(&mut self, ask: MessageId, by: MessageId) {
        self.next.awaiting.remove(&ask);
        self.next.timeouts_in_dead_letters.remove(&ask);
        if by != ask && !self.next.consumed.contains(&ask) {
            self.next.consumed.push(ask);
        }
    }

    /// Moves ask `ask`, whose timeout is dead-lettered unrun, out of the open asks'
    /// slots; past [`MAX_AWAITING`] such asks, the oldest is given up (its reply or
    /// redriven timeout is then dropped as settled).
    pub(super) fn set_aside(&mut self, ask: MessageId) {
        if !self.next.awaiting.remove(&ask) {
            return;
        }
        let aside = &mut self.next.timeouts_in_dead_letters;
        aside.insert(ask);
        if aside.len() > MAX_AWAITING {
            aside.pop_first();
        }
    }
}
