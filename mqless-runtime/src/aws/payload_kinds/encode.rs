//! Writing a [`Payload`] for a channel, so that [`decode_text`] and [`decode_bytes`] read
//! back the same event (`tests` below check every kind both ways).

use base64::Engine;
use serde_json::{Map, Value};

use super::decode::{bson_document, decode_bytes, decode_text, strict_base64, tagged};
use crate::events::Payload;

/// `payload` as the text of an SQS message or an SNS notification.
///
/// # Errors
/// Why the payload cannot be written so that it reads back as itself: an object that
/// BSON cannot hold (an integer above `i64::MAX`), or binary data that is empty or
/// reads as a BSON document.
pub fn encode_text(payload: &Payload) -> Result<String, String> {
    match payload {
        Payload::Mega(_) | Payload::Json(_) => json_text(payload),
        Payload::Bson(object) => Ok(base64(&bson_bytes(object)?)),
        Payload::Plaintext(text) => Ok(plaintext(text, decode_text(text))),
        Payload::Binary(bytes) => binary_text(bytes),
    }
}

/// `payload` as the data of a Kinesis record: as [`encode_text`] writes it, but a BSON
/// document raw.
///
/// # Errors
/// As [`encode_text`].
pub fn encode_bytes(payload: &Payload) -> Result<Vec<u8>, String> {
    match payload {
        Payload::Bson(object) => bson_bytes(object),
        Payload::Plaintext(text) => Ok(plaintext(text, decode_bytes(text.as_bytes())).into_bytes()),
        Payload::Mega(_) | Payload::Json(_) | Payload::Binary(_) => {
            encode_text(payload).map(String::into_bytes)
        }
    }
}

/// The event `payload` stands for, a JSON object: the `Detail` of an EventBridge event
/// (which carries JSON only), and what the events function delivers to subscribers.
///
/// # Errors
/// As [`encode_text`].
pub fn event_object(payload: &Payload) -> Result<Map<String, Value>, String> {
    Ok(match payload {
        Payload::Plaintext(text) => only_object(tagged("plaintext", text)),
        Payload::Binary(bytes) => only_object(tagged("binary", &binary_text(bytes)?)),
        Payload::Bson(object) => {
            bson_bytes(object)?;
            object.clone()
        }
        Payload::Mega(_) | Payload::Json(_) => payload
            .object()
            .ok_or("a MEGA event that does not serialize to a JSON object")?,
    })
}

fn json_text(payload: &Payload) -> Result<String, String> {
    let object = payload
        .object()
        .ok_or("a MEGA event that does not serialize to a JSON object")?;
    serde_json::to_string(&object).map_err(|error| error.to_string())
}

/// `text` as it is, unless the reader would take it for another kind (`read`: what it
/// reads as): then as a JSON string, which reads back as the text.
fn plaintext(text: &str, read: Result<Value, String>) -> String {
    let as_is = read.ok().is_some_and(|event| {
        event.get("plaintext").and_then(Value::as_str) == Some(text)
            && event.as_object().is_some_and(|object| object.len() == 1)
    });
    if as_is {
        text.to_owned()
    } else {
        Value::String(text.to_owned()).to_string()
    }
}

fn binary_text(bytes: &[u8]) -> Result<String, String> {
    if bytes.is_empty() {
        return Err(
            "empty binary data reads back as empty text; send Payload::plaintext(\"\")".into(),
        );
    }
    if bson_document(bytes).is_some() {
        return Err("this binary data is a BSON document, and readers take it for one; send the document with Payload::bson".into());
    }
    let text = base64(bytes);
    debug_assert!(strict_base64(&text).is_some());
    Ok(text)
}

/// The BSON document of `object`, if it reads back as `object` (BSON turns an integer
/// above `i64::MAX` into a float, and gives fields such as `$oid` a meaning of their own).
fn bson_bytes(object: &Map<String, Value>) -> Result<Vec<u8>, String> {
    const SEND_JSON: &str = "send it with Payload::json";
    let document = bson::Document::try_from(object.clone())
        .map_err(|error| format!("the object cannot be a BSON document ({error}); {SEND_JSON}"))?;
    let mut bytes = Vec::new();
    document
        .to_writer(&mut bytes)
        .map_err(|error| format!("the BSON document cannot be written ({error}); {SEND_JSON}"))?;
    if bson_document(&bytes).as_ref().and_then(Value::as_object) != Some(object) {
        return Err(format!("the object does not read back the same from BSON (an integer above i64::MAX, or a field such as `$oid` that BSON gives a meaning); {SEND_JSON}"));
    }
    Ok(bytes)
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn only_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(object) => object,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::MegaEvent;

    fn kinds() -> Vec<Payload> {
        let mega = MegaEvent::recognize(&json!({
            "protocol": "mega", "version": 1,
            "event": {"name": "order.confirmed", "domain": "orders", "subject": "o-1"},
            "object": {"current": {"total": 12.5}}
        }))
        .unwrap();
        let mut kinds = vec![
            Payload::mega(mega),
            Payload::json(&json!({"order_id": "o-1", "big": u64::MAX})).unwrap(),
            Payload::bson(&json!({"order_id": "o-1", "lines": [1, 2], "ok": true, "x": null}))
                .unwrap(),
            Payload::binary(vec![0, 1, 2, 255]),
            Payload::binary(b"test".to_vec()),
        ];
        // Text of every shape a reader could take for another kind.
        for text in [
            "Hello World!",
            "test",
            "AAEC/w==",
            r#"{"a": 1}"#,
            r#""quoted""#,
            "[1, 2]",
            "12",
            "",
            "  dGVzdA==  ",
            "héllo ✓",
        ] {
            kinds.push(Payload::plaintext(text));
        }
        kinds
    }

    #[test]
    fn every_kind_reads_back_as_its_event_from_text_and_from_bytes() {
        for payload in kinds() {
            let event = Value::Object(event_object(&payload).unwrap());
            let text = encode_text(&payload).unwrap();
            assert_eq!(
                decode_text(&text).unwrap(),
                event,
                "{payload:?} as {text:?}"
            );
            let bytes = encode_bytes(&payload).unwrap();
            assert_eq!(decode_bytes(&bytes).unwrap(), event, "{payload:?} as bytes");
        }
    }

    #[test]
    fn text_is_sent_as_it_is_unless_it_would_read_as_another_kind() {
        let sent = |text: &str| encode_text(&Payload::plaintext(text)).unwrap();
        assert_eq!(sent("Hello World!"), "Hello World!");
        assert_eq!(sent("test"), r#""test""#, "valid base64");
        assert_eq!(sent(r#"{"a": 1}"#), r#""{\"a\": 1}""#, "a JSON object");
        assert_eq!(
            encode_text(&Payload::binary(vec![0xff])).unwrap(),
            "/w==",
            "binary: base64"
        );
    }

    #[test]
    fn what_cannot_read_back_as_itself_is_refused_with_what_to_send_instead() {
        let mut document = Vec::new();
        bson::doc! {"a": 1_i32}.to_writer(&mut document).unwrap();
        for (payload, says) in [
            (Payload::binary(Vec::new()), "Payload::plaintext"),
            (Payload::binary(document), "Payload::bson"),
            (
                Payload::bson(&json!({"big": u64::MAX})).unwrap(),
                "Payload::json",
            ),
        ] {
            for error in [
                encode_text(&payload).unwrap_err(),
                encode_bytes(&payload).unwrap_err(),
                event_object(&payload).unwrap_err(),
            ] {
                assert!(error.contains(says), "{payload:?}: {error}");
            }
        }
    }
}
