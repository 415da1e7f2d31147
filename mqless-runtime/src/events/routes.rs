//! What a topic's fan-out reads: the subscriptions declared by the actor types this
//! process runs, and the per-actor subscriptions in the store (of the types that declare
//! a method for them).

use std::sync::{Arc, PoisonError, RwLock};

use super::Subscription;
use crate::error::Error;
use crate::id::ActorType;
use crate::store::Store;

/// The subscriptions a topic fans out to.
pub(crate) struct EventRoutes {
    pub(crate) store: Arc<dyn Store>,
    /// Routed subscriptions declared with `#[subscribe(.., route = ..)]`, by type.
    declared: RwLock<Vec<(ActorType, Subscription)>>,
    /// The methods declared to take a topic's events one actor at a time
    /// (`#[subscribe(topic = ..)]` without a route), by type: whose subscriptions the
    /// fan-out reads where they are kept by subscriber type.
    per_actor: RwLock<Vec<(ActorType, Subscription)>>,
}

impl std::fmt::Debug for EventRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRoutes").finish_non_exhaustive()
    }
}

impl EventRoutes {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            declared: RwLock::default(),
            per_actor: RwLock::default(),
        }
    }

    /// Adds the subscriptions of the actor type `type_name` (routed ones, and the
    /// methods of per-actor ones), replacing what it declared before, checking their
    /// topics, patterns and routes (the macro checked them at compile time; a
    /// hand-written `Actor` impl was not).
    ///
    /// # Errors
    /// [`Error::InvalidTopic`], [`Error::InvalidPattern`] naming the method.
    pub(crate) fn declare(
        &self,
        type_name: &str,
        subscriptions: &'static [Subscription],
    ) -> Result<(), Error> {
        let actor_type = ActorType::new(type_name)?;
        for subscription in subscriptions {
            check(subscription)?;
        }
        for (list, routed) in [(&self.declared, true), (&self.per_actor, false)] {
            let mut list = list.write().unwrap_or_else(PoisonError::into_inner);
            list.retain(|(ty, _)| *ty != actor_type);
            list.extend(
                subscriptions
                    .iter()
                    .filter(|s| s.route.is_some() == routed)
                    .map(|s| (actor_type.clone(), *s)),
            );
        }
        Ok(())
    }

    /// The actor types with a method for `topic`'s per-actor subscriptions, in name
    /// order (the order a fan-out reads their subscriptions in, the same in every step).
    pub(crate) fn subscriber_types(&self, topic: &str) -> Vec<ActorType> {
        let mut types: Vec<ActorType> = self
            .per_actor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, s)| s.topic == topic)
            .map(|(ty, _)| ty.clone())
            .collect();
        types.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        types.dedup();
        types
    }

    /// The routed subscriptions to `topic`.
    pub(crate) fn declared_for(&self, topic: &str) -> Vec<(ActorType, Subscription)> {
        self.declared
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, s)| s.topic == topic)
            .cloned()
            .collect()
    }
}

fn check(subscription: &Subscription) -> Result<(), Error> {
    super::Topic::new(subscription.topic)?;
    let method = subscription.method;
    if let Some(pattern) = subscription.pattern {
        mqless_pattern::Pattern::parse(pattern)
            .map_err(|e| Error::InvalidPattern(format!("{method}: {e}")))?;
    }
    if let Some(route) = subscription.route {
        mqless_pattern::check_field_path(route)
            .map_err(|e| Error::InvalidPattern(format!("{method}: route: {e}")))?;
    }
    Ok(())
}
