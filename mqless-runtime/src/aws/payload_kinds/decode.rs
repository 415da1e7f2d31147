//! Reading a payload as SQS MEGA reads it, in its order: text that is base64 holds a
//! BSON document (read as the JSON object it encodes) or else binary data; other text is
//! a JSON object (a MEGA event, or plain data), a JSON string, or plain text. JSON that
//! is neither an object nor a string (an array, a number) is refused.

use base64::Engine;
use serde_json::{Map, Value};

use crate::events::json_kind;

/// Decodes a text payload (an SQS body, an SNS message).
///
/// # Errors
/// JSON that is neither an object nor a string: patterns match the fields of objects.
pub(crate) fn decode_text(text: &str) -> Result<Value, String> {
    if let Some(bytes) = strict_base64(text) {
        return Ok(bson_document(&bytes).unwrap_or_else(|| tagged("binary", text)));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(Value::Object(object)),
        Ok(Value::String(string)) => Ok(tagged("plaintext", &string)),
        Ok(other) => Err(format!(
            "the payload is JSON but not an object ({}); publish objects, whose fields patterns match",
            json_kind(&other)
        )),
        Err(_) => Ok(tagged("plaintext", text)),
    }
}

/// Decodes a binary payload (a Kinesis record's data): a BSON document (its first four
/// bytes give its exact length, so text is not taken for one), else text decoded as
/// [`decode_text`] does, else binary data.
///
/// # Errors
/// As [`decode_text`].
pub(crate) fn decode_bytes(bytes: &[u8]) -> Result<Value, String> {
    if let Some(document) = bson_document(bytes) {
        return Ok(document);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => decode_text(text),
        Err(_) => Ok(tagged(
            "binary",
            &base64::engine::general_purpose::STANDARD.encode(bytes),
        )),
    }
}

/// The bytes of `text` if it is standard base64 with its padding (and not empty).
pub(super) fn strict_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.is_empty() || !text.len().is_multiple_of(4) {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// The JSON object a BSON document encodes (relaxed extended JSON: an ObjectId is
/// `{"$oid": ..}`, a date `{"$date": ..}`), if `bytes` are exactly one document.
pub(super) fn bson_document(bytes: &[u8]) -> Option<Value> {
    let declared = bytes.get(..4)?;
    let declared = u32::from_le_bytes(declared.try_into().ok()?);
    if usize::try_from(declared).ok()? != bytes.len() {
        return None;
    }
    let document = bson::Document::from_reader(bytes).ok()?;
    Some(bson::Bson::Document(document).into_relaxed_extjson())
}

pub(super) fn tagged(kind: &str, text: &str) -> Value {
    let mut event = Map::new();
    event.insert(kind.into(), Value::String(text.to_owned()));
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bson_base64(document: bson::Document) -> String {
        let mut bytes = Vec::new();
        document.to_writer(&mut bytes).unwrap();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn each_kind_of_payload_becomes_an_object() {
        assert_eq!(
            decode_text(r#"{"kind": "placed"}"#).unwrap(),
            json!({"kind": "placed"})
        );
        let document = bson::doc! {"kind": "placed", "total": 12_i64, "lines": [1_i32, 2_i32]};
        assert_eq!(
            decode_text(&bson_base64(document)).unwrap(),
            json!({"kind": "placed", "total": 12, "lines": [1, 2]}),
            "BSON, base64 as SQS MEGA sends it"
        );
        assert_eq!(
            decode_text("AAEC/w==").unwrap(),
            json!({"binary": "AAEC/w=="}),
            "base64 that is not BSON: binary, kept as sent"
        );
        assert_eq!(
            decode_text("Hello World!").unwrap(),
            json!({"plaintext": "Hello World!"})
        );
        assert_eq!(
            decode_text(r#""quoted""#).unwrap(),
            json!({"plaintext": "quoted"})
        );
    }

    #[test]
    fn kinesis_bytes_decode_as_text_bson_or_binary() {
        assert_eq!(decode_bytes(br#"{"a": 1}"#).unwrap(), json!({"a": 1}));
        let mut raw = Vec::new();
        bson::doc! {"a": 1_i32}.to_writer(&mut raw).unwrap();
        assert_eq!(decode_bytes(&raw).unwrap(), json!({"a": 1}), "raw BSON");
        assert_eq!(
            decode_bytes(&[0xff, 0x00, 0x01]).unwrap(),
            json!({"binary": "/wAB"})
        );
    }

    #[test]
    fn json_that_is_not_an_object_is_refused_with_its_kind() {
        for (text, says) in [("[1, 2]", "an array"), ("12.5", "a number")] {
            let error = decode_text(text).unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
