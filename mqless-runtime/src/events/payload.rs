//! What an event carries to a channel outside MQLess (an SQS queue, an SNS topic, an
//! EventBridge bus, a Kinesis stream), in the payload kinds SQS MEGA defines: a MEGA
//! event or a plain data object (sent as JSON, or as a BSON document), plain text, or
//! binary data. How each kind is written on each channel, and read back by the events
//! function, is in `mqless::aws::payload_kinds` (feature `aws`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::MegaEvent;
use crate::error::Error;

/// The payload of an event for a channel outside MQLess, in one of the kinds SQS MEGA
/// publishes and the events function reads back.
///
/// ```
/// use mqless_runtime::events::Payload;
///
/// #[derive(serde::Serialize)]
/// struct Shipped { order_id: String, parcels: u32 }
///
/// let json = Payload::json(&Shipped { order_id: "o-1".into(), parcels: 2 })?;
/// let bson = Payload::bson(&Shipped { order_id: "o-1".into(), parcels: 2 })?;
/// assert_eq!(json.object(), bson.object());
/// assert!(Payload::json(&[1, 2]).is_err(), "data payloads are objects");
/// let text = Payload::plaintext("Hello World!");
/// assert_eq!(text.object(), None);
/// # Ok::<(), mqless_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Payload {
    /// A MEGA event, written as JSON.
    Mega(Box<MegaEvent>),
    /// A plain data object, written as JSON.
    Json(Map<String, Value>),
    /// A plain data object, written as a BSON document (base64 where the channel
    /// carries text; EventBridge, which carries JSON only, gets the object).
    Bson(Map<String, Value>),
    /// Text.
    Plaintext(String),
    /// Bytes (base64 where the channel carries text).
    Binary(#[serde(with = "serde_bytes")] Vec<u8>),
}

impl Payload {
    /// A MEGA event.
    #[must_use]
    pub fn mega(event: MegaEvent) -> Self {
        Self::Mega(Box::new(event))
    }

    /// `data` as a plain data object, written as JSON.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] if `data` does not serialize to a JSON object (consumers
    /// and event patterns match the fields of objects).
    pub fn json<T: Serialize + ?Sized>(data: &T) -> Result<Self, Error> {
        Ok(Self::Json(data_object(data)?))
    }

    /// `data` as a plain data object, written as a BSON document.
    ///
    /// # Errors
    /// As [`Payload::json`].
    pub fn bson<T: Serialize + ?Sized>(data: &T) -> Result<Self, Error> {
        Ok(Self::Bson(data_object(data)?))
    }

    /// Text, sent as it is.
    #[must_use]
    pub fn plaintext(text: impl Into<String>) -> Self {
        Self::Plaintext(text.into())
    }

    /// Binary data.
    #[must_use]
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Self {
        Self::Binary(bytes.into())
    }

    /// The data object a MEGA, JSON or BSON payload carries (a MEGA event as its
    /// envelope's fields); `None` for text and binary data.
    #[must_use]
    pub fn object(&self) -> Option<Map<String, Value>> {
        match self {
            Self::Mega(event) => match serde_json::to_value(event) {
                Ok(Value::Object(object)) => Some(object),
                _ => None,
            },
            Self::Json(object) | Self::Bson(object) => Some(object.clone()),
            Self::Plaintext(_) | Self::Binary(_) => None,
        }
    }
}

/// `data` as a JSON object, or why it is none.
fn data_object<T: Serialize + ?Sized>(data: &T) -> Result<Map<String, Value>, Error> {
    match serde_json::to_value(data) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(Error::InvalidEvent(format!(
            "a data payload must serialize to a JSON object, not {}; wrap it in a struct, or send text with Payload::plaintext",
            json_kind(&other)
        ))),
        Err(error) => Err(Error::InvalidEvent(format!(
            "the data payload does not serialize to JSON: {error}"
        ))),
    }
}

/// What kind of JSON value `value` is, for messages.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "an array",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::String(_) => "a string",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_kind_survives_the_state_records_encoding() {
        let mega = MegaEvent::recognize(&json!({
            "protocol": "mega", "version": "1",
            "event": {"name": "order.confirmed", "subject": "o-1"},
            "object": {"current": {"total": 12.5, "lines": [1, 2]}}
        }))
        .unwrap();
        for payload in [
            Payload::mega(mega),
            Payload::json(&json!({"n": -3, "big": u64::MAX})).unwrap(),
            Payload::bson(&json!({"nested": {"a": [true, null]}})).unwrap(),
            Payload::plaintext("Hello World!"),
            Payload::binary(vec![0, 1, 255]),
        ] {
            let bytes = rmp_serde::to_vec_named(&payload).unwrap();
            let back: Payload = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(back, payload);
        }
    }

    #[test]
    fn data_that_is_not_an_object_is_refused_with_its_kind() {
        for (data, says) in [
            (json!([1, 2]), "an array"),
            (json!("text"), "a string"),
            (json!(3), "a number"),
        ] {
            let error = Payload::json(&data).unwrap_err().to_string();
            assert!(error.contains(says), "{data}: {error}");
            assert!(error.contains("Payload::plaintext"), "{error}");
        }
    }
}
