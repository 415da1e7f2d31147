//! MessagePack to JSON and back: the tool shows state, messages and replies as JSON and
//! turns `--json` arguments into message bodies (docs/wire.md, "Message bodies").

use base64::Engine as _;
use rmpv::Value;
use serde_json::{Map, Number, Value as Json};

/// Nesting deeper than this is refused, as the runtime refuses it.
const MAX_DEPTH: usize = 64;

/// `bytes` (one MessagePack value) as JSON. `bin` becomes `{"$binary": "<base64>"}`,
/// an extension `{"$ext": type, "$binary": ..}`, a non-string map key its JSON text.
pub(crate) fn from_msgpack(bytes: &[u8]) -> Result<Json, String> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH)
        .map_err(|e| format!("not MessagePack: {e}"))?;
    if !reader.is_empty() {
        return Err(format!(
            "{} bytes after the MessagePack value",
            reader.len()
        ));
    }
    Ok(to_json(value))
}

fn to_json(value: Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(b),
        Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Json::from(u),
            (None, Some(i)) => Json::from(i),
            (None, None) => Json::Null,
        },
        Value::F32(f) => float(f64::from(f)),
        Value::F64(f) => float(f),
        Value::String(s) => Json::String(s.into_str().unwrap_or_else(|| "<not UTF-8>".into())),
        Value::Binary(bytes) => binary(&bytes),
        Value::Array(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .into_iter()
                .map(|(key, value)| {
                    let key = match key {
                        Value::String(s) => s.into_str().unwrap_or_default(),
                        other => to_json(other).to_string(),
                    };
                    (key, to_json(value))
                })
                .collect(),
        ),
        Value::Ext(kind, data) => {
            let mut object = Map::new();
            object.insert("$ext".into(), Json::from(kind));
            object.insert("$binary".into(), Json::String(base64(&data)));
            Json::Object(object)
        }
    }
}

fn float(f: f64) -> Json {
    // JSON has no NaN or infinities: show them as strings rather than lose them.
    Number::from_f64(f).map_or_else(|| Json::String(f.to_string()), Json::Number)
}

/// `{"$binary": "<base64>"}`.
pub(crate) fn binary(bytes: &[u8]) -> Json {
    let mut object = Map::new();
    object.insert("$binary".into(), Json::String(base64(bytes)));
    Json::Object(object)
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// JSON as MessagePack: integers as the smallest encoding that fits, other numbers as
/// float 64, objects as maps with string keys, `{"$binary": "<base64>"}` as `bin`.
pub(crate) fn to_msgpack(json: &Json) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &from_json(json)?)
        .map_err(|e| format!("could not encode MessagePack: {e}"))?;
    Ok(bytes)
}

fn from_json(json: &Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Value::from(u),
            (None, Some(i), _) => Value::from(i),
            (None, None, Some(f)) => Value::F64(f),
            _ => return Err(format!("number {n} does not fit MessagePack")),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(items.iter().map(from_json).collect::<Result<_, _>>()?),
        Json::Object(object) => {
            if let (1, Some(Json::String(encoded))) = (object.len(), object.get("$binary")) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|e| format!("`$binary` is not base64: {e}"))?;
                return Ok(Value::Binary(bytes));
            }
            Value::Map(
                object
                    .iter()
                    .map(|(key, value)| Ok((Value::from(key.as_str()), from_json(value)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
    })
}

/// The body of a call of `method` with `arguments` (a JSON object of the method's named
/// arguments): `{"<method>": {<arguments>}}`.
pub(crate) fn message_body(method: &str, arguments: &Json) -> Result<Vec<u8>, String> {
    if !arguments.is_object() {
        return Err(format!(
            "the arguments must be a JSON object of the method's named arguments, like '{{\"by\": 5}}'; got {arguments}"
        ));
    }
    let mut body = Map::new();
    body.insert(method.to_owned(), arguments.clone());
    to_msgpack(&Json::Object(body))
}

/// A message body shown as `method(arguments)`, or as JSON when it is not a call.
pub(crate) fn describe_body(body: &[u8]) -> (String, Json) {
    match from_msgpack(body) {
        Ok(Json::Object(call)) if call.len() == 1 => {
            let (method, arguments) = call.into_iter().next().unwrap_or_default();
            (method, arguments)
        }
        Ok(Json::String(unit)) => (unit, Json::Null),
        Ok(other) => ("?".into(), other),
        Err(error) => ("?".into(), Json::String(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_increment_encodes_as_the_wire_fixture() {
        // fixtures/wire/v1/body-counter-increment.msgpack
        let expected = [
            0x81, 0xa9, b'i', b'n', b'c', b'r', b'e', b'm', b'e', b'n', b't', 0x81, 0xa2, b'b',
            b'y', 0x05,
        ];
        let body = message_body("increment", &serde_json::json!({"by": 5})).unwrap();
        assert_eq!(body, expected);
        assert_eq!(
            describe_body(&body),
            ("increment".into(), serde_json::json!({"by": 5}))
        );
    }

    #[test]
    fn values_survive_the_round_trip() {
        let json = serde_json::json!({
            "n": -300, "big": u64::MAX, "f": 0.5, "s": "héllo", "none": null,
            "list": [1, "a", true], "raw": {"$binary": "AQL/"}
        });
        assert_eq!(from_msgpack(&to_msgpack(&json).unwrap()).unwrap(), json);
    }

    #[test]
    fn arguments_must_be_an_object() {
        let error = message_body("increment", &serde_json::json!(5)).unwrap_err();
        assert!(error.contains("JSON object"), "{error}");
    }

    #[test]
    fn garbage_and_deep_nesting_are_errors_not_panics() {
        assert!(from_msgpack(&[0x92, 0x01]).is_err());
        assert!(from_msgpack(&[0x91; 200]).is_err());
        assert!(from_msgpack(&[0x05, 0x05]).is_err());
    }
}
