//! Publish and subscribe: events published to a topic reach every actor whose
//! subscription's pattern matches, each exactly once, as a call of one of its methods.
//!
//! A topic is an actor of the built-in type [`TOPIC_TYPE`] (`mqless-topic/<topic>`):
//! publishing is a send to it (from a handler, committed atomically with the state
//! change, like any send), and its handler fans each event out to the matching
//! subscribers in pages, each page's deliveries committed atomically with the message
//! that carries the fan-out on to the next page. So a publish is recorded once, resumes
//! after a crash where its last commit left it, is never delivered twice, and reaches
//! subscribers in the order events were published to the topic.
//!
//! Two kinds of subscriptions:
//! - **Declared, routed**: `#[subscribe(topic = "orders", pattern = r#"{..}"#, route =
//!   "order_id")]` on a method: every matching event goes to the actor whose id is the
//!   event's `order_id`. Known from the code; no actor needs to exist first.
//! - **Per actor**: a method marked `#[subscribe(topic = "orders")]` (no `route`) that
//!   actors opt into one by one with [`Context::subscribe`](crate::Context::subscribe),
//!   with a pattern of their own; stored in the topic's partition, listed page by page
//!   when an event fans out, so a topic may have any number of them.
//!
//! Patterns use the EventBridge event-pattern grammar (see [`Pattern`]).

mod emission;
mod mega;
mod message;
mod payload;
mod routes;

pub use crate::error::EmitError;
pub use emission::{
    check_channel, Emission, Emitted, Emitter, NoEmitter, RecordingEmitter,
    DEFAULT_MAX_EMISSION_BYTES, MAX_CHANNEL_LEN, MAX_EMISSION_DEPTH,
};
pub use mega::{MegaEvent, MegaEventInfo, MegaObject};
pub(crate) use message::topic_address;
pub use message::TopicMessage;
pub use mqless_pattern::{Pattern, PatternError};
#[cfg(feature = "aws")]
pub(crate) use payload::json_kind;
pub use payload::Payload;
pub(crate) use routes::EventRoutes;

use serde::Serialize;

use crate::codec::Limits;
use crate::error::Error;
use crate::id::{ActorId, ActorType, Address};

/// The actor type of topics: topic `orders` is the actor `mqless-topic/orders`, whose
/// mailbox holds the events being fanned out and whose partition holds the topic's
/// per-actor subscriptions.
pub const TOPIC_TYPE: &str = "mqless-topic";

/// A subscription declared with `#[subscribe(..)]` on an actor method; `#[actor]`
/// lists them in `Actor::SUBSCRIPTIONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    /// The topic.
    pub topic: &'static str,
    /// The wire name of the method the event calls.
    pub method: &'static str,
    /// The name of the method's one argument, which receives the event.
    pub argument: &'static str,
    /// Which events (an EventBridge event pattern); `None`: every event of the topic.
    pub pattern: Option<&'static str>,
    /// The event field that holds the receiving actor's id; `None`: actors subscribe
    /// one by one with `ctx.subscribe`.
    pub route: Option<&'static str>,
}

/// A valid topic name: 1 to 128 ASCII letters, digits, `-`, `_` or `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(String);

impl Topic {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] saying which rule it broke.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > 128 {
            Some("it is longer than 128 bytes")
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            Some("it may only hold ASCII letters, digits, `-`, `_` and `.`")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidTopic { name, reason }),
            None => Ok(Self(name)),
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address of the topic's actor: `mqless-topic/<name>`.
    ///
    /// # Errors
    /// Never for a valid name; typed for the signature's sake.
    pub fn address(&self) -> Result<Address, Error> {
        Ok(Address::new(
            ActorType::new(TOPIC_TYPE)?,
            ActorId::new(self.0.clone())?,
        ))
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Encodes `event` for publishing: MessagePack, which must read as a JSON object (a
/// struct or a map with string keys) for patterns to match its fields.
///
/// # Errors
/// [`Error::Codec`] when it does not encode or breaks `limits`, [`Error::InvalidEvent`]
/// when it is not an object of JSON values (binary fields, for example).
pub fn encode_event<E: Serialize + ?Sized>(event: &E, limits: &Limits) -> Result<Vec<u8>, Error> {
    let most = limits.max_message_bytes.saturating_sub(EVENT_HEADROOM);
    let encoded = crate::codec::encode(event, "event", most)?;
    event_json(&encoded, limits)?;
    Ok(encoded)
}

/// What a fan-out adds to an event, which a published event leaves room for under the
/// message limit: a delivery's method and argument names, a step's cursor (the last
/// subscription key, an actor's address and a method). A published event is at most
/// `Limits::max_message_bytes` less this (62 KiB by default), so that every delivery
/// and step fits: it is refused at publish rather than accepted and then lost.
pub const EVENT_HEADROOM: usize = 2048;

/// An encoded event as JSON, for matching.
///
/// # Errors
/// [`Error::InvalidEvent`] saying why it is not a JSON object.
pub fn event_json(event: &[u8], limits: &Limits) -> Result<serde_json::Value, Error> {
    let value: serde_json::Value = crate::codec::decode(
        event,
        "event",
        limits.max_message_bytes,
        limits.max_depth,
    )
    .map_err(|error| {
        Error::InvalidEvent(format!(
            "it does not read as JSON ({error}); publish structs and maps of strings, numbers, booleans, lists and nested maps (binary fields: encode them as base64 strings)"
        ))
    })?;
    if !value.is_object() {
        return Err(Error::InvalidEvent(format!(
            "it is {}, not an object; publish a struct or a map, whose fields patterns can match",
            kind(&value)
        )));
    }
    Ok(value)
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The body of the message that delivers `event` (MessagePack) to `method`, whose one
/// argument is `argument`: `{method: {argument: event}}` (docs/wire.md, "Message
/// bodies"), the event's bytes spliced in as they were published.
#[must_use]
pub fn delivery_body(method: &str, argument: &str, event: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(event.len() + method.len() + argument.len() + 12);
    body.push(0x81);
    push_str(&mut body, method);
    body.push(0x81);
    push_str(&mut body, argument);
    body.extend_from_slice(event);
    body
}

fn push_str(out: &mut Vec<u8>, text: &str) {
    // Names are short; `rmp::encode::write_str` would do the same for every length.
    let len = text.len();
    if len < 32 {
        out.push(0xa0 | u8::try_from(len).unwrap_or(0));
    } else if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xda);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
    out.extend_from_slice(text.as_bytes());
}

/// The id an event routes to: the string or number at `route`.
pub(crate) fn routed_id(event: &serde_json::Value, route: &str) -> Option<String> {
    match mqless_pattern::field(event, route)? {
        serde_json::Value::String(id) => Some(id.clone()),
        serde_json::Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Placed {
        order_id: String,
        total: u32,
    }

    #[test]
    fn a_delivery_body_decodes_as_the_method_call() {
        let event = Placed {
            order_id: "o-1".into(),
            total: 5,
        };
        let encoded = encode_event(&event, &Limits::DEFAULT).unwrap();
        let body = delivery_body("on_placed", "event", &encoded);
        assert_eq!(crate::wire::method_name(&body), Some("on_placed"));
        #[derive(Deserialize)]
        enum Call {
            #[serde(rename = "on_placed")]
            OnPlaced { event: Placed },
        }
        let Call::OnPlaced { event: decoded } = rmp_serde::from_slice(&body).unwrap();
        assert_eq!(decoded, event);
    }

    #[test]
    fn events_must_be_json_objects() {
        let error = encode_event(&5, &Limits::DEFAULT).unwrap_err();
        assert!(error.to_string().contains("not an object"), "{error}");
        let binary = serde_bytes::ByteBuf::from(vec![1, 2, 3]);
        let mut map = std::collections::BTreeMap::new();
        map.insert("blob", binary);
        let error = encode_event(&map, &Limits::DEFAULT).unwrap_err();
        assert!(error.to_string().contains("base64"), "{error}");
    }

    #[test]
    fn topic_names_are_checked() {
        assert!(Topic::new("orders.v1").is_ok());
        for bad in ["", "a/b", "with space", &"x".repeat(129)] {
            assert!(
                matches!(Topic::new(bad), Err(Error::InvalidTopic { .. })),
                "{bad}"
            );
        }
    }
}
