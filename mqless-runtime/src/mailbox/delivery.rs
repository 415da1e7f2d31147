//! Step 5's first part: a committed batch's emissions (`Context::emit`) delivered to their
//! channels, in order, before the cleanup's writes; those a channel refuses for good
//! become dead letters whose envelope carries the emission, so a redrive emits it again.

use crate::actor::Actor;
use crate::error::{EmitError, Error};
use crate::events::Emission;
use crate::id::Address;
use crate::store::{DeadLetter, DeadLetterKind};
use crate::wire::Envelope;

use super::{bookkeeping, ActorHost};

impl<A: Actor> ActorHost<A> {
    /// Delivers a committed batch's emissions in order; returns the dead letters of
    /// those their channels refused for good.
    ///
    /// # Errors
    /// [`Error::Emit`] when a channel cannot take one for now: the emissions after it
    /// wait, so that they keep their order, and the next drain's cleanup delivers them.
    pub(super) async fn deliver(
        &self,
        address: &Address,
        emissions: &[Emission],
    ) -> Result<Vec<DeadLetter>, Error> {
        let mut refused = Vec::new();
        for emission in emissions {
            match self.emitter.emit(address, emission).await {
                Ok(()) => {}
                Err(EmitError::Refused { channel, reason }) => {
                    tracing::error!(actor = %address, emission = %emission.id, %channel, %reason, "a channel refused an emission; it is a dead letter");
                    refused.push(undeliverable(
                        emission,
                        &channel,
                        &reason,
                        &self.config.limits,
                        self.clock.now_millis(),
                    )?);
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(refused)
    }
}

/// The dead letter of an emission `channel` refused for good, with `reason`: an
/// envelope that carries the emission (see `Envelope::emission`), so that a redrive
/// emits it again.
fn undeliverable(
    emission: &Emission,
    channel: &str,
    reason: &str,
    limits: &crate::codec::Limits,
    now: u64,
) -> Result<DeadLetter, Error> {
    let mut envelope = Envelope::new(Vec::new(), false, None);
    envelope.trace = None;
    envelope.emission = Some(crate::codec::encode(emission, "emission", usize::MAX)?);
    Ok(DeadLetter {
        id: emission.id,
        envelope: envelope.encode(limits)?,
        error: bookkeeping::truncate(format!("channel `{channel}` refused it: {reason}")),
        attempts: 1,
        dead_at: now,
        kind: DeadLetterKind::Undeliverable,
    })
}
