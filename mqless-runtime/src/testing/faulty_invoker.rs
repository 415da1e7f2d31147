//! Wake-ups and clocks disturbed: nudges dropped, refused, duplicated or delayed before
//! they reach any [`Invoker`], and a process's clock skewed from the shared one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::faults::{lock, Rng};
use crate::clock::{Clock, ManualClock};
use crate::error::InvokeError;
use crate::id::Address;
use crate::invoke::Invoker;
use crate::BoxFuture;

/// Faults injected into nudges so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NudgeFaults {
    /// Lost without a trace (an `Event` invoke dropped after Lambda's retries).
    pub dropped: u64,
    /// Refused with an error (throttled or 5xx from the Invoke API).
    pub failed: u64,
    /// Delivered twice (Lambda's at-least-once `Event` delivery).
    pub duplicated: u64,
    /// Held back until [`FaultyInvoker::deliver_delayed`].
    pub delayed: u64,
}

/// An invoker that drops, refuses, duplicates and delays nudges at random before
/// passing them on to `inner`.
pub struct FaultyInvoker {
    inner: Arc<dyn Invoker>,
    random: Mutex<Option<(Rng, u64)>>,
    delayed: Mutex<Vec<Address>>,
    injected: Mutex<NudgeFaults>,
    /// Each actor's last dropped nudge, numbered from one.
    dropped_for: Mutex<(u64, BTreeMap<Address, u64>)>,
    /// How many of each actor's next nudges to refuse, before any random fault.
    refusals: Mutex<BTreeMap<Address, u32>>,
}

impl FaultyInvoker {
    /// Passes nudges on to `inner`, no faults armed.
    pub fn new(inner: Arc<dyn Invoker>) -> Self {
        Self {
            inner,
            random: Mutex::default(),
            delayed: Mutex::default(),
            injected: Mutex::default(),
            dropped_for: Mutex::default(),
            refusals: Mutex::default(),
        }
    }

    /// Refuses the next `n` nudges of `address` with an error, as a throttled Invoke API
    /// would: the sender sees its wake-up fail (unlike a drop), and must leave the
    /// message to the sweep. Deterministic, for a test that needs one particular wake-up
    /// refused.
    pub fn refuse_nudges_to(&self, address: &Address, n: u32) {
        lock(&self.refusals).insert(address.clone(), n);
    }

    /// How many of the nudges of `address` that [`Self::refuse_nudges_to`] armed are
    /// still to be refused.
    pub fn refusals_left(&self, address: &Address) -> u32 {
        lock(&self.refusals).get(address).copied().unwrap_or(0)
    }

    /// The actors a nudge was dropped for, unless a drain that began after it read
    /// their whole mailbox (see [`Self::forget_dropped`]): only the audit can find what
    /// those left queued, as nobody saw the wake-up fail.
    pub fn dropped_for(&self) -> BTreeSet<Address> {
        lock(&self.dropped_for).1.keys().cloned().collect()
    }

    /// Records a wake-up of `address` lost where nobody saw it, though no nudge of this
    /// invoker dropped it: one a drain killed between its commit and its wake-ups never
    /// sent (see [`Self::dropped_for`]).
    pub fn record_lost(&self, address: &Address) {
        let mut dropped = lock(&self.dropped_for);
        dropped.0 += 1;
        let drop = dropped.0;
        dropped.1.insert(address.clone(), drop);
    }

    /// How many nudges were dropped so far: take it when a drain begins, and hand it to
    /// [`Self::forget_dropped`] when the drain ends.
    pub fn drops(&self) -> u64 {
        lock(&self.dropped_for).0
    }

    /// Forgets the nudges of `address` dropped before a drain that began when
    /// [`Self::drops`] said `drops` and read the whole mailbox: what they were for has
    /// run. A nudge dropped while that drain ran is kept.
    pub fn forget_dropped(&self, address: &Address, drops: u64) {
        let mut dropped = lock(&self.dropped_for);
        if dropped.1.get(address).is_some_and(|last| *last <= drops) {
            dropped.1.remove(address);
        }
    }

    /// Each nudge is dropped, refused, duplicated or delayed, each with probability
    /// `per_mille / 1000`.
    pub fn random_faults(&self, seed: u64, per_mille: u64) {
        *lock(&self.random) = Some((Rng(seed), per_mille));
    }

    /// Disarms the faults (delayed nudges stay held until delivered).
    pub fn stop_random_faults(&self) {
        *lock(&self.random) = None;
    }

    /// Delivers the nudges held back so far.
    pub async fn deliver_delayed(&self) {
        let delayed = std::mem::take(&mut *lock(&self.delayed));
        for address in delayed {
            let _ = self.inner.nudge(&address).await;
        }
    }

    /// The faults injected so far.
    pub fn injected(&self) -> NudgeFaults {
        *lock(&self.injected)
    }
}

impl Invoker for FaultyInvoker {
    fn can_wake(&self, actor_type: &crate::id::ActorType) -> Result<(), crate::Error> {
        self.inner.can_wake(actor_type)
    }

    fn nudge<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<(), InvokeError>> {
        let refused = match lock(&self.refusals).get_mut(address) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        };
        let roll = lock(&self.random)
            .as_mut()
            .filter(|_| !refused)
            .map(|(rng, per_mille)| (rng.below(1000), *per_mille));
        let action = roll.map(|(roll, p)| {
            let mut injected = lock(&self.injected);
            let (action, count) = match roll {
                r if r < p => (NudgeAction::Drop, &mut injected.dropped),
                r if r < 2 * p => (NudgeAction::Fail, &mut injected.failed),
                r if r < 3 * p => (NudgeAction::Duplicate, &mut injected.duplicated),
                r if r < 4 * p => (NudgeAction::Delay, &mut injected.delayed),
                _ => return NudgeAction::Pass,
            };
            *count += 1;
            action
        });
        let action = if refused {
            lock(&self.injected).failed += 1;
            Some(NudgeAction::Fail)
        } else {
            action
        };
        Box::pin(async move {
            match action.unwrap_or(NudgeAction::Pass) {
                NudgeAction::Pass => self.inner.nudge(address).await,
                NudgeAction::Drop => {
                    let mut dropped = lock(&self.dropped_for);
                    dropped.0 += 1;
                    let drop = dropped.0;
                    dropped.1.insert(address.clone(), drop);
                    Ok(())
                }
                NudgeAction::Fail => Err(InvokeError {
                    actor_type: address.actor_type().to_string(),
                    message: "injected: TooManyRequestsException (rate exceeded)".into(),
                }),
                NudgeAction::Duplicate => {
                    self.inner.nudge(address).await?;
                    self.inner.nudge(address).await
                }
                NudgeAction::Delay => {
                    lock(&self.delayed).push(address.clone());
                    Ok(())
                }
            }
        })
    }
}

#[derive(Clone, Copy)]
enum NudgeAction {
    Pass,
    Drop,
    Fail,
    Duplicate,
    Delay,
}

/// A clock `offset_millis` ahead of (or, negative, behind) a shared manual clock: one
/// per process whose clock is skewed.
#[derive(Debug, Clone)]
pub struct SkewedClock {
    /// The true time.
    pub base: ManualClock,
    /// How far this clock is off.
    pub offset_millis: i64,
}

impl Clock for SkewedClock {
    fn now_millis(&self) -> u64 {
        self.base
            .now_millis()
            .saturating_add_signed(self.offset_millis)
    }
}

impl std::ops::AddAssign for NudgeFaults {
    fn add_assign(&mut self, other: Self) {
        self.dropped += other.dropped;
        self.failed += other.failed;
        self.duplicated += other.duplicated;
        self.delayed += other.delayed;
    }
}
