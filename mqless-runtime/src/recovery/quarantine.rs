//! Quarantined actors: those whose own record failed in a way no retry fixes (a state
//! that no longer decodes after a deploy, a record that cannot fit DynamoDB's limits, a
//! record written past MQLess). Drains leave a quarantined actor alone and its mailbox
//! keeps every message, until an operator fixes the cause and lifts the quarantine here.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::actor::Actor;
use crate::codec::{self, Limits};
use crate::error::Error;
use crate::id::{ActorId, ActorType, Address};
use crate::invoke::Invoker;
use crate::store::{Lift, QuarantineRecord, StateFix, Store};

/// A quarantined actor, as listed by [`crate::Actors::quarantined`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The actor.
    pub id: ActorId,
    /// What failed, and what to do about it.
    pub reason: String,
    /// When, in milliseconds since the Unix epoch.
    pub since: u64,
}

/// The quarantine of one actor of type `A`: inspect it, then lift it in the way that
/// fixes the cause. Get it from [`crate::Actors::quarantine`].
///
/// | cause (in the reason) | fix |
/// |---|---|
/// | the committed state does not decode | deploy a version whose state reads the old bytes (see docs/guide/evolving.md), then [`retry`](Quarantine::retry); or [`replace_state`](Quarantine::replace_state) / [`reset_state`](Quarantine::reset_state) |
/// | the batch bookkeeping does not decode | [`lift`](Quarantine::lift) with `clear_bookkeeping` |
/// | the state record cannot be committed | [`replace_state`](Quarantine::replace_state) with a smaller state, or lower the limits |
/// | written past MQLess | [`replace_state`](Quarantine::replace_state) or [`reset_state`](Quarantine::reset_state) (which rewrite the record) |
///
/// Each lift wakes the actor, which then drains its queued messages in order.
pub struct Quarantine<A> {
    address: Address,
    store: Arc<dyn Store>,
    invoker: Arc<dyn Invoker>,
    limits: Limits,
    actor: PhantomData<fn() -> A>,
}

impl<A> std::fmt::Debug for Quarantine<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quarantine")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl<A: Actor> Quarantine<A> {
    pub(crate) fn new(
        address: Address,
        store: Arc<dyn Store>,
        invoker: Arc<dyn Invoker>,
        limits: Limits,
    ) -> Self {
        Self {
            address,
            store,
            invoker,
            limits,
            actor: PhantomData,
        }
    }

    /// The actor.
    #[must_use]
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Whether, why and since when the actor is quarantined.
    ///
    /// # Errors
    /// A store failure.
    pub async fn status(&self) -> Result<Option<Quarantined>, Error> {
        Ok(self.record().await?.map(|record| Quarantined {
            id: self.address.id().clone(),
            reason: record.reason,
            since: record.since,
        }))
    }

    /// The stored state bytes (MessagePack), as they are: to inspect them, or to decode
    /// them with an older version of the state type and [`replace_state`] with the result.
    ///
    /// [`replace_state`]: Quarantine::replace_state
    ///
    /// # Errors
    /// A store failure.
    pub async fn stored_state(&self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .store
            .load_state(&self.address)
            .await?
            .and_then(|r| r.state))
    }

    /// Lifts the quarantine keeping the state: after deploying a fix (for example a
    /// state type that reads the old bytes again). If the cause is still there, the
    /// next drain quarantines the actor again, with a new time.
    ///
    /// # Errors
    /// [`Error::NotQuarantined`], or a store failure.
    pub async fn retry(&self) -> Result<(), Error> {
        self.lift(StateFix::Keep, false).await
    }

    /// Lifts the quarantine with `state` as the actor's new state.
    ///
    /// # Errors
    /// [`Error::Codec`] when `state` does not encode within the limits,
    /// [`Error::NotQuarantined`], or a store failure.
    pub async fn replace_state(&self, state: &A) -> Result<(), Error> {
        let bytes = codec::encode(state, "actor state", self.limits.max_state_bytes)?;
        self.lift(StateFix::Replace(bytes), false).await
    }

    /// Lifts the quarantine with the actor back at its `Default` state.
    ///
    /// # Errors
    /// [`Error::NotQuarantined`], or a store failure.
    pub async fn reset_state(&self) -> Result<(), Error> {
        self.lift(StateFix::Reset, false).await
    }

    /// Lifts the quarantine with `state` fixed as given and, with `clear_bookkeeping`,
    /// the record of the last batch forgotten. Clear it only when it is the part that
    /// does not decode: a message that batch consumed but had not yet deleted then
    /// runs again.
    ///
    /// # Errors
    /// [`Error::NotQuarantined`], or a store failure.
    pub async fn lift(&self, state: StateFix, clear_bookkeeping: bool) -> Result<(), Error> {
        let not_quarantined = || Error::NotQuarantined {
            address: self.address.to_string(),
        };
        let record = self.record().await?.ok_or_else(not_quarantined)?;
        let lift = Lift {
            since: record.since,
            state,
            clear_bookkeeping,
        };
        if !self.store.lift_quarantine(&self.address, &lift).await? {
            return Err(not_quarantined());
        }
        tracing::info!(actor = %self.address, "quarantine lifted");
        self.invoker.nudge(&self.address).await?;
        Ok(())
    }

    async fn record(&self) -> Result<Option<QuarantineRecord>, Error> {
        Ok(self
            .store
            .load_state(&self.address)
            .await?
            .and_then(|r| r.quarantine))
    }
}

/// The quarantined actors of type `actor_type` in `store`, in id order.
pub(crate) async fn quarantined(
    store: &dyn Store,
    actor_type: &ActorType,
) -> Result<Vec<Quarantined>, Error> {
    Ok(store
        .quarantined_actors()
        .await?
        .into_iter()
        .filter(|(address, _)| address.actor_type() == actor_type)
        .map(|(address, record)| Quarantined {
            id: address.id().clone(),
            reason: record.reason,
            since: record.since,
        })
        .collect())
}
