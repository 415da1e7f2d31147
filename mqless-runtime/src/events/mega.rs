//! The MEGA event envelope: `protocol`, `version`, `event {name, timestamp, version,
//! domain, subject, attributes}`, `object {current, previous}`. Publish one as JSON (from
//! SQS, SNS or EventBridge through the events function, or from Rust); subscribe with
//! `event: MegaEvent` and route by its subject with `route = "event.subject"`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A MEGA event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MegaEvent {
    /// The protocol's name (`"mega"`).
    pub protocol: String,
    /// The protocol's version.
    pub version: String,
    /// What happened.
    pub event: MegaEventInfo,
    /// The object it happened to, before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<MegaObject>,
}

/// The `event` part of a [`MegaEvent`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MegaEventInfo {
    /// The event's name, such as `order.placed`.
    pub name: String,
    /// When it happened (as the producer wrote it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Value>,
    /// The version of the event's schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Value>,
    /// The domain it belongs to: the events function's default topic for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// What it is about: route it to an actor with `route = "event.subject"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Anything else the producer attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
}

/// The `object` part of a [`MegaEvent`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MegaObject {
    /// The object after the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Value>,
    /// The object before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Value>,
}

impl MegaEvent {
    /// `value` as a MEGA event, when it has the envelope's shape: `protocol`,
    /// `version`, and an `event` object with a `name`.
    #[must_use]
    pub fn recognize(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        let shaped = object.contains_key("protocol")
            && object.contains_key("version")
            && object
                .get("event")
                .and_then(Value::as_object)
                .is_some_and(|event| event.get("name").is_some_and(Value::is_string));
        if !shaped {
            return None;
        }
        serde_json::from_value(value.clone()).ok()
    }
}
