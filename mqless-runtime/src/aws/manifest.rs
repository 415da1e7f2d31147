//! What a function binary says about itself when run with [`MANIFEST_FLAG`]: its actor
//! type, the types it sends to and the channels it emits to, as `#[actor]` recorded them. `mqless template` runs
//! each built `bootstrap` with the flag and derives the deploy template's functions and
//! least-privilege permissions from the answers, so they come from the code.

use serde::{Deserialize, Serialize};

use crate::actor::Actor;

/// The argument that makes a function binary print its [`Manifest`] and exit, instead of
/// serving Lambda invocations.
pub const MANIFEST_FLAG: &str = "--mqless-manifest";

/// A function binary's description of itself (JSON on stdout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest format (1).
    pub mqless_manifest: u32,
    /// The actor type it runs; `None` for the sweeper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_type: Option<String>,
    /// The actor types its handlers send to (`Actor::SENDS_TO`); `None`: unrestricted
    /// (a hand-written `Actor` impl).
    #[serde(default)]
    pub sends_to: Option<Vec<String>>,
    /// Whether its handlers ask with `reply_to`: the types they ask reply into its mailbox.
    #[serde(default)]
    pub asks_with_reply_to: bool,
    /// The channels its handlers emit to (`Actor::EMITS_TO`); `None`: unrestricted (a
    /// hand-written `Actor` impl), or a binary older than channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emits_to: Option<Vec<String>>,
    /// It is the sweeper: it wakes every actor with messages due.
    #[serde(default)]
    pub sweeper: bool,
    /// It is the events function: it runs the topics (`actor_type` is `mqless-topic`)
    /// and delivers to `sends_to`, the subscribing types.
    #[serde(default)]
    pub events: bool,
    /// The topics whose events its actors take one actor at a time
    /// (`#[subscribe(topic = ..)]` without a route): in key layout v2 its commits write
    /// their subscriptions, in partitions `t/<topic>/<its type>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscribes_to: Vec<String>,
}

impl Manifest {
    /// The manifest of actor type `A`'s function.
    #[must_use]
    pub fn of<A: Actor>() -> Self {
        Self {
            mqless_manifest: 1,
            actor_type: Some(A::TYPE_NAME.to_owned()),
            sends_to: A::SENDS_TO.map(|types| types.iter().map(|t| (*t).to_owned()).collect()),
            asks_with_reply_to: A::ASKS_WITH_REPLY_TO,
            emits_to: A::EMITS_TO
                .map(|channels| channels.iter().map(|c| (*c).to_owned()).collect()),
            sweeper: false,
            events: false,
            subscribes_to: per_actor_topics(A::SUBSCRIPTIONS),
        }
    }

    /// The events function's manifest: it runs the topics and delivers to `subscribers`.
    #[must_use]
    pub fn events(subscribers: &super::Subscribers) -> Self {
        Self {
            mqless_manifest: 1,
            actor_type: Some(crate::events::TOPIC_TYPE.to_owned()),
            sends_to: Some(
                subscribers
                    .types()
                    .iter()
                    .map(|t| (*t).to_owned())
                    .collect(),
            ),
            asks_with_reply_to: false,
            emits_to: None,
            sweeper: false,
            events: true,
            subscribes_to: Vec::new(),
        }
    }

    /// The sweeper function's manifest.
    #[must_use]
    pub fn sweeper() -> Self {
        Self {
            mqless_manifest: 1,
            actor_type: None,
            sends_to: None,
            asks_with_reply_to: false,
            emits_to: None,
            sweeper: true,
            events: false,
            subscribes_to: Vec::new(),
        }
    }

    /// Prints this manifest and returns `true` when the process was started with
    /// [`MANIFEST_FLAG`]; the caller then exits instead of serving.
    pub(crate) fn print_if_asked(&self) -> bool {
        if !std::env::args().skip(1).any(|arg| arg == MANIFEST_FLAG) {
            return false;
        }
        // The manifest is the program's output (`mqless template` reads it); it cannot
        // fail to encode, and an empty line would be reported there as no manifest.
        println!("{}", serde_json::to_string(self).unwrap_or_default());
        true
    }
}

/// The topics of `subscriptions` taken one actor at a time, each once, in order.
fn per_actor_topics(subscriptions: &[crate::events::Subscription]) -> Vec<String> {
    let mut topics: Vec<String> = Vec::new();
    for subscription in subscriptions.iter().filter(|s| s.route.is_none()) {
        if !topics.iter().any(|t| t == subscription.topic) {
            topics.push(subscription.topic.to_owned());
        }
    }
    topics
}
