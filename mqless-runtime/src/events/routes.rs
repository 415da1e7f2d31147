//! What a topic's fan-out reads: the subscriptions declared by the actor types this
//! process runs, and the per-actor subscriptions in the store.

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
        }
    }

    /// Adds the routed subscriptions of the actor type `type_name`, checking their topics, patterns and routes (the
    /// macro checked them at compile time; a hand-written `Actor` impl was not).
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
        let mut declared = self
            .declared
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        declared.retain(|(ty, _)| *ty != actor_type);
        declared.extend(
            subscriptions
                .iter()
                .filter(|s| s.route.is_some())
                .map(|s| (actor_type.clone(), *s)),
        );
        Ok(())
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
