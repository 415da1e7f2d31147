//! Step 5's first part: a committed batch's emissions (`Context::emit`) delivered to their
//! channels, in order, before the cleanup's writes; those a channel refuses for good, or
//! cannot take for longer than `DrainConfig::max_emission_wait`, become dead letters
//! whose envelope carries the emission, so a redrive emits it again.

use crate::actor::Actor;
use crate::error::{EmitError, Error};
use crate::events::Emission;
use crate::id::Address;
use crate::store::{DeadLetter, DeadLetterKind};
use crate::wire::Envelope;

use super::{bookkeeping, ActorHost};

impl<A: Actor> ActorHost<A> {
    /// Delivers a committed batch's emissions in order; returns the dead letters of
    /// those their channels refused for good, or could not take for longer than
    /// [`DrainConfig::max_emission_wait`](super::DrainConfig::max_emission_wait).
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
                        format!("channel `{channel}` refused it: {reason}"),
                        &self.config.limits,
                        self.clock.now_millis(),
                    )?);
                }
                Err(EmitError::Unavailable { channel, reason }) => {
                    let now = self.clock.now_millis();
                    let waited = now.saturating_sub(emission.id.timestamp_millis());
                    let most = crate::clock::millis(self.config.max_emission_wait);
                    if waited < most {
                        return Err(EmitError::Unavailable { channel, reason }.into());
                    }
                    tracing::error!(actor = %address, emission = %emission.id, %channel, %reason, waited_ms = waited, "a channel could not take an emission for longer than max_emission_wait; it is a dead letter");
                    let error = waited_too_long(&channel, waited, &reason);
                    refused.push(undeliverable(emission, error, &self.config.limits, now)?);
                }
            }
        }
        Ok(refused)
    }
}

/// Why an emission `channel` could not take for `waited_ms` is a dead letter.
fn waited_too_long(channel: &str, waited_ms: u64, reason: &str) -> String {
    format!(
        "channel `{channel}` could not take it for {} s, longer than DrainConfig::max_emission_wait (redrive it once the channel works); the last error: {reason}",
        waited_ms / 1000
    )
}

/// The dead letter of an emission its channel would not take, with `error` (which
/// names the channel and why): an envelope that carries the emission (see
/// `Envelope::emission`), so that a redrive emits it again.
fn undeliverable(
    emission: &Emission,
    error: String,
    limits: &crate::codec::Limits,
    now: u64,
) -> Result<DeadLetter, Error> {
    let mut envelope = Envelope::new(Vec::new(), false, None);
    envelope.trace = None;
    envelope.emission = Some(crate::codec::encode(emission, "emission", usize::MAX)?);
    Ok(DeadLetter {
        id: emission.id,
        envelope: envelope.encode(limits)?,
        error: bookkeeping::truncate(error),
        attempts: 1,
        dead_at: now,
        kind: DeadLetterKind::Undeliverable,
    })
}
