//! Faults in emissions to channels outside MQLess: a channel unavailable before it takes
//! an emission (throttling); one that takes it but whose answer is lost (a timeout
//! after the target stored it), so the drain sees a failure for a delivery that landed;
//! and one that refuses it for good (a permission missing until an operator adds it),
//! which makes the emission a dead letter to redrive.

use std::collections::BTreeSet;
use std::sync::Mutex;

use super::faults::{lock, Rng};
use crate::events::{Emission, EmitError, Emitted, Emitter, RecordingEmitter};
use crate::id::{Address, MessageId};
use crate::BoxFuture;

/// Emission faults injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmitFaults {
    /// Refused as unavailable before the channel took them.
    pub before: u64,
    /// Taken by the channel, then reported unavailable (the answer lost).
    pub after: u64,
    /// Refused for good, not taken (each becomes a dead letter of kind `undeliverable`).
    pub refused: u64,
}

/// A [`RecordingEmitter`] with seeded faults: with [`FaultyEmitter::random_faults`] each
/// emission is, `per_mille` times in a thousand each, refused as unavailable before it
/// is taken, or taken and then reported unavailable, and a quarter as often refused for
/// good. What the channel took is in [`FaultyEmitter::delivered`], repeats included, as
/// a consumer would see it.
#[derive(Debug, Default)]
pub struct FaultyEmitter {
    channel: RecordingEmitter,
    random: Mutex<Option<(Rng, u64)>>,
    injected: Mutex<EmitFaults>,
    refused: Mutex<BTreeSet<(Address, MessageId)>>,
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

    /// The emissions refused for good at least once, by emitting actor and id: each
    /// may be delivered after the actor's later emissions (when its dead letter is
    /// redriven, or when a repeated cleanup finds the channel taking it).
    #[must_use]
    pub fn refused(&self) -> BTreeSet<(Address, MessageId)> {
        lock(&self.refused).clone()
    }

    /// The fault to inject into the next emission, if any.
    fn roll(&self) -> Option<Fault> {
        let mut random = lock(&self.random);
        let (rng, per_mille) = random.as_mut()?;
        let roll = rng.below(4000);
        let per_4000 = 4 * *per_mille;
        if roll < per_4000 {
            Some(Fault::Before)
        } else if roll < 2 * per_4000 {
            Some(Fault::After)
        } else if roll < 2 * per_4000 + *per_mille {
            Some(Fault::Refused)
        } else {
            None
        }
    }
}

/// A fault injected into one emission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Unavailable, before the channel took it.
    Before,
    /// Taken, then reported unavailable.
    After,
    /// Refused for good.
    Refused,
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
            match fault {
                Some(Fault::Before) => {
                    lock(&self.injected).before += 1;
                    return Err(unavailable("injected: throttled"));
                }
                Some(Fault::Refused) => {
                    lock(&self.injected).refused += 1;
                    lock(&self.refused).insert((from.clone(), emission.id));
                    return Err(EmitError::Refused {
                        channel: emission.channel.clone(),
                        reason: "injected: no permission to send to it, until one is added".into(),
                    });
                }
                Some(Fault::After) | None => {}
            }
            self.channel.emit(from, emission).await?;
            if fault == Some(Fault::After) {
                lock(&self.injected).after += 1;
                return Err(unavailable("injected: the answer was lost after delivery"));
            }
            Ok(())
        })
    }
}
