//! A redriven emission: the dead letter of an emission its channel refused, put back
//! into the mailbox, is emitted again by the batch (under its own id), not run.

use super::Batch;
use crate::actor::Actor;
use crate::codec;
use crate::error::Error;
use crate::events::Emission;
use crate::store::MailboxItem;

impl<A: Actor> Batch<'_, A> {
    /// Records `encoded` (an `Envelope::emission`) to deliver after the commit, like
    /// what a handler emits; an emission that does not decode is dead-lettered.
    pub(super) fn emit_again(&mut self, item: &MailboxItem, encoded: &[u8]) -> Result<(), Error> {
        let limits = self.host.config.limits;
        match codec::decode::<Emission>(
            encoded,
            "redriven emission",
            limits.max_message_bytes,
            limits.max_depth,
        ) {
            Ok(emission) => {
                self.tally.processed += 1;
                self.next.emit(vec![emission])
            }
            Err(error) => {
                self.next.fail(item.id, error.to_string(), 1);
                self.tally.dead_lettered += 1;
                Ok(())
            }
        }
    }
}
