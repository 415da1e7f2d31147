//! Faults in emissions to channels outside MQLess: a channel unavailable before it takes
//! an emission (throttling), and one that takes it but whose answer is lost (a timeout
//! after the target stored it), so the drain sees a failure for a delivery that landed.

use std::sync::Mutex;

use super::faults::{lock, Rng};
use crate::events::{Emission, EmitError, Emitted, Emitter, RecordingEmitter};
use crate::id::Address;
use crate::BoxFuture;

/// Emission faults injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmitFaults {
    /// Refused as unavailable before the channel took them.
    pub before: u64,
    /// Taken by the channel, then reported unavailable (the answer lost).
    pub after: u64,
}

/// A [`RecordingEmitter`] with seeded faults: with [`FaultyEmitter::random_faults`] each
/// emission is, `per_mille` times in a thousand each, refused as unavailable before it
/// is taken, or taken and then reported unavailable. What the channel took is in
/// [`FaultyEmitter::delivered`], repeats included, as a consumer would see it.
#[derive(Debug, Default)]
pub struct FaultyEmitter {
    channel: RecordingEmitter,
    random: Mutex<Option<(Rng, u64)>>,
    injected: Mutex<EmitFaults>,
}

impl FaultyEmitter {
    /// An emitter with no fault armed.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms seeded random faults (see [`FaultyEmitter`]).
    pub fn random_faults(&self, seed: u64, per_mille: u64) {
        *lock(&self.random) = Some((Rng(seed), per_mille));
    }

    /// Disarms the random faults.
    pub fn stop_random_faults(&self) {
        *lock(&self.random) = None;
    }

    /// What the channel took, in order, repeats included.
    #[must_use]
    pub fn delivered(&self) -> Vec<Emitted> {
        self.channel.emitted()
    }

    /// The faults injected so far.
    #[must_use]
    pub fn injected(&self) -> EmitFaults {
        *lock(&self.injected)
    }

    /// `Some(true)`: fail before taking it; `Some(false)`: after; `None`: no fault.
    fn roll(&self) -> Option<bool> {
        let mut random = lock(&self.random);
        let (rng, per_mille) = random.as_mut()?;
        let roll = rng.below(1000);
        if roll < *per_mille {
            Some(true)
        } else if roll < 2 * *per_mille {
            Some(false)
        } else {
            None
        }
    }
}

impl Emitter for FaultyEmitter {
    fn emit<'a>(
        &'a self,
        from: &'a Address,
        emission: &'a Emission,
    ) -> BoxFuture<'a, Result<(), EmitError>> {
        let unavailable = |reason: &str| EmitError::Unavailable {
            channel: emission.channel.clone(),
            reason: reason.to_owned(),
        };
        let fault = self.roll();
        Box::pin(async move {
            if fault == Some(true) {
                lock(&self.injected).before += 1;
                return Err(unavailable("injected: throttled"));
            }
            self.channel.emit(from, emission).await?;
            if fault == Some(false) {
                lock(&self.injected).after += 1;
                return Err(unavailable("injected: the answer was lost after delivery"));
            }
            Ok(())
        })
    }
}
