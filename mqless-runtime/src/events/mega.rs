//! The MEGA event envelope: `protocol`, `version`, `event {name, timestamp, version,
//! domain, subject, attributes}`, `object {current, previous}`. Publish one as JSON (from
//! SQS, SNS or EventBridge through the events function, or from Rust); subscribe with
//! `event: MegaEvent` and route by its subject with `route = "event.subject"`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A MEGA event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MegaEvent {
    /// The protocol's name (`"mega"`).
    pub protocol: String,
    /// The protocol's version, as text: producers write a number (`1`, as SQS MEGA's own
    /// example does) or a string (`"1"`); both are read, and a whole number is written
    /// back as a number.
    #[serde(
        deserialize_with = "string_or_number",
        serialize_with = "number_if_whole"
    )]
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
    /// `version` (a number or a string), and an `event` object with a `name`. A value
    /// that looks like MEGA (it has a `protocol`) but is not one is logged with the
    /// reason, and read as a plain event.
    #[must_use]
    pub fn recognize(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        match Self::parse(object) {
            Ok(event) => Some(event),
            Err(reason) => {
                if object.contains_key("protocol") {
                    tracing::warn!(%reason, "an event with a `protocol` field is not a MEGA event; it is published as a plain event");
                }
                None
            }
        }
    }

    /// The MEGA event `object` holds, or why it is none.
    fn parse(object: &Map<String, Value>) -> Result<Self, String> {
        if !object.contains_key("protocol") {
            return Err("it has no `protocol`".into());
        }
        if !object.contains_key("version") {
            return Err("it has no `version`".into());
        }
        let Some(event) = object.get("event").and_then(Value::as_object) else {
            return Err("its `event` is missing or not an object".into());
        };
        if !event.get("name").is_some_and(Value::is_string) {
            return Err("its `event.name` is missing or not a string".into());
        }
        serde_json::from_value(Value::Object(object.clone())).map_err(|error| error.to_string())
    }
}

/// Writes a version that is a whole number as a number, as SQS MEGA does.
fn number_if_whole<S: serde::Serializer>(version: &str, serializer: S) -> Result<S::Ok, S::Error> {
    match version.parse::<u64>() {
        Ok(number) if number.to_string() == version => serializer.serialize_u64(number),
        _ => serializer.serialize_str(version),
    }
}

/// Reads a version written as a string or as a number.
fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Version;
    impl Visitor<'_> for Version {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a version: a string or a number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    deserializer.deserialize_any(Version)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn versions_are_read_as_the_protocols_producers_write_them() {
        for version in [json!(1), json!("1"), json!(1.5)] {
            let event = json!({
                "protocol": "mega", "version": version,
                "event": {"name": "order.placed", "version": 1, "subject": "o-1"}
            });
            let typed = MegaEvent::recognize(&event).expect("a MEGA event");
            assert_eq!(typed.event.subject.as_deref(), Some("o-1"));
            assert_eq!(typed.version, version.to_string().trim_matches('"'));
        }
        // A subscriber takes it as its argument: from MessagePack too.
        let bytes = rmp_serde::to_vec_named(&json!({
            "protocol": "mega", "version": 2, "event": {"name": "n"}
        }))
        .unwrap();
        let typed: MegaEvent = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(typed.version, "2");
    }

    #[test]
    fn a_whole_version_is_written_as_a_number_as_sqs_mega_writes_it() {
        for (version, written) in [("1", json!(1)), ("1.5", json!("1.5")), ("01", json!("01"))] {
            let event = MegaEvent {
                protocol: "mega".into(),
                version: version.into(),
                ..MegaEvent::default()
            };
            assert_eq!(serde_json::to_value(&event).unwrap()["version"], written);
        }
    }

    #[test]
    fn what_looks_like_mega_but_is_not_says_why() {
        for (value, reason) in [
            (
                json!({"protocol": "mega", "event": {"name": "n"}}),
                "no `version`",
            ),
            (
                json!({"protocol": "mega", "version": 1, "event": "n"}),
                "`event` is missing",
            ),
            (
                json!({"protocol": "mega", "version": 1, "event": {}}),
                "`event.name`",
            ),
            (
                json!({"protocol": "mega", "version": true, "event": {"name": "n"}}),
                "a string or a number",
            ),
        ] {
            let object = value.as_object().unwrap();
            let error = MegaEvent::parse(object).unwrap_err();
            assert!(error.contains(reason), "{value}: {error}");
            assert_eq!(MegaEvent::recognize(&value), None);
        }
    }
}
