//! What a topic actor understands: publish one event, subscribe or unsubscribe an actor.
//! Handlers send these (`ctx.publish`, `ctx.subscribe`); [`crate::topics`] handles them.

use serde::{Deserialize, Serialize};

use super::Topic;
use crate::error::Error;
use crate::id::Address;

/// The topic actor's messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TopicMessage {
    /// Fan out `event` (MessagePack) to the routed subscriptions from the
    /// `routed_next`-th match on, unless `routed_done`, then to the per-actor
    /// subscriptions after `after` (their keys). Each step continues this message in
    /// place (at the head of the topic's mailbox), so one event's fan-out ends before the
    /// next event's begins.
    #[serde(rename = "publish")]
    Publish {
        /// The event, as published.
        #[serde(with = "serde_bytes")]
        event: Vec<u8>,
        /// Where the fan-out resumes in the per-actor subscriptions.
        after: Option<String>,
        /// Whether the routed subscriptions were delivered already.
        routed_done: bool,
        /// How many routed matches earlier steps delivered.
        #[serde(default, skip_serializing_if = "is_zero")]
        routed_next: u32,
    },
    /// Subscribe `subscriber`'s `method` (taking the event as `argument`).
    #[serde(rename = "subscribe")]
    Subscribe {
        /// The subscribing actor's address.
        subscriber: String,
        /// The method's wire name.
        method: String,
        /// The method's argument name.
        argument: String,
        /// Which events; `None`: all.
        pattern: Option<String>,
    },
    /// End `subscriber`'s subscription of `method`.
    #[serde(rename = "unsubscribe")]
    Unsubscribe {
        /// The subscribing actor's address.
        subscriber: String,
        /// The method's wire name.
        method: String,
    },
}

impl TopicMessage {
    /// The first step of publishing `event` (encoded with [`super::encode_event`]).
    #[must_use]
    pub fn publish(event: Vec<u8>) -> Self {
        Self::Publish {
            event,
            after: None,
            routed_done: false,
            routed_next: 0,
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The topic actor's address for `topic`.
pub(crate) fn topic_address(topic: &str) -> Result<Address, Error> {
    Topic::new(topic)?.address()
}
