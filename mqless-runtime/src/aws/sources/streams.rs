//! Records from streams: Kinesis Data Streams and DynamoDB Streams, as Lambda's event
//! source mappings deliver them. A stream's records are ordered per shard, and Lambda
//! resumes a shard from the first record a function reports failed, so the events
//! function publishes a batch in order and stops at the first failure (see
//! `aws/events.rs`).

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::{mega_domain, object, SourceEvent};

/// Decodes one Kinesis record: its `data` (base64 on the wire) is the payload, a JSON
/// object, BSON, text or binary (see `payload`). The topic is a MEGA event's
/// `event.domain`, else the stream's name.
///
/// # Errors
/// What is wrong, for the log: not from Kinesis, no `eventID` or `data`, data that is
/// not base64, JSON that is not an object. Lambda retries such a record, then hands it to the
/// mapping's on-failure destination.
pub fn kinesis_record(record: &Value) -> Result<SourceEvent, String> {
    if record.get("eventSource").and_then(Value::as_str) != Some("aws:kinesis") {
        return Err("the record's eventSource is not aws:kinesis".into());
    }
    let id = record
        .get("eventID")
        .and_then(Value::as_str)
        .ok_or("the Kinesis record has no eventID")?;
    let data = record
        .pointer("/kinesis/data")
        .and_then(Value::as_str)
        .ok_or("the Kinesis record has no kinesis.data")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("the Kinesis record's data is not base64 ({e})"))?;
    let event = crate::aws::payload_kinds::decode_bytes(&bytes)?;
    let stream = arn_resource(record, "stream/");
    Ok(SourceEvent {
        topic: mega_domain(&event).or(stream),
        key: format!("kinesis:{id}"),
        event: object(event)?,
    })
}

/// Decodes one DynamoDB Streams record into the event published for it:
///
/// ```json
/// {"eventName": "MODIFY", "table": "orders", "keys": {"pk": "o-1"},
///  "newImage": {"pk": "o-1", "total": 12}, "oldImage": {"pk": "o-1", "total": 10}}
/// ```
///
/// The images are there when the stream's view type carries them; attribute values
/// are plain JSON (numbers as numbers, sets as arrays, binary as base64 strings). The
/// topic is the table's name.
///
/// # Errors
/// Not from DynamoDB, no `eventID`, `eventName` or `dynamodb.Keys`.
pub fn dynamodb_record(record: &Value) -> Result<SourceEvent, String> {
    if record.get("eventSource").and_then(Value::as_str) != Some("aws:dynamodb") {
        return Err("the record's eventSource is not aws:dynamodb".into());
    }
    let id = record
        .get("eventID")
        .and_then(Value::as_str)
        .ok_or("the DynamoDB Streams record has no eventID")?;
    let name = record
        .get("eventName")
        .and_then(Value::as_str)
        .ok_or("the DynamoDB Streams record has no eventName")?;
    let change = record
        .get("dynamodb")
        .ok_or("the DynamoDB Streams record has no dynamodb")?;
    let mut event = Map::new();
    event.insert("eventName".into(), Value::String(name.to_owned()));
    if let Some(table) = arn_resource(record, "table/") {
        event.insert("table".into(), Value::String(table));
    }
    for (from, to) in [
        ("Keys", "keys"),
        ("NewImage", "newImage"),
        ("OldImage", "oldImage"),
    ] {
        if let Some(item) = change.get(from) {
            event.insert(to.into(), plain_item(item)?);
        } else if from == "Keys" {
            return Err("the DynamoDB Streams record has no dynamodb.Keys".into());
        }
    }
    Ok(SourceEvent {
        topic: arn_resource(record, "table/"),
        key: format!("dynamodb:{id}"),
        event: Value::Object(event),
    })
}

/// The name after `kind` in the record's `eventSourceARN`
/// (`arn:aws:kinesis:..:stream/<name>`, `arn:aws:dynamodb:..:table/<name>/stream/..`).
fn arn_resource(record: &Value, kind: &str) -> Option<String> {
    let arn = record.get("eventSourceARN")?.as_str()?;
    let resource = arn.split(':').nth(5)?.strip_prefix(kind)?;
    let name = resource.split('/').next()?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// An item in DynamoDB's JSON (`{"total": {"N": "12"}}`) as plain JSON (`{"total": 12}`).
fn plain_item(item: &Value) -> Result<Value, String> {
    let fields = item
        .as_object()
        .ok_or("a DynamoDB Streams image is not an object")?;
    fields
        .iter()
        .map(|(name, value)| Ok((name.clone(), plain_value(value)?)))
        .collect::<Result<Map<_, _>, String>>()
        .map(Value::Object)
}

fn plain_value(value: &Value) -> Result<Value, String> {
    let (kind, inner) = value
        .as_object()
        .filter(|typed| typed.len() == 1)
        .and_then(|typed| typed.iter().next())
        .ok_or_else(|| format!("{value} is not a DynamoDB attribute value"))?;
    let items = |inner: &Value| -> Result<Vec<Value>, String> {
        inner
            .as_array()
            .ok_or_else(|| format!("{kind} holds {inner}, not a list"))?
            .iter()
            .map(|member| match kind.as_str() {
                "L" => plain_value(member),
                "NS" => number(member),
                _ => Ok(member.clone()),
            })
            .collect()
    };
    Ok(match kind.as_str() {
        "S" | "B" => inner.clone(),
        "N" => number(inner)?,
        "BOOL" => Value::Bool(
            inner
                .as_bool()
                .ok_or_else(|| format!("BOOL holds {inner}, not true or false"))?,
        ),
        "NULL" => Value::Null,
        "M" => plain_item(inner)?,
        "L" | "SS" | "NS" | "BS" => Value::Array(items(inner)?),
        other => return Err(format!("unknown DynamoDB attribute type {other}")),
    })
}

/// A DynamoDB number (a string of up to 38 digits): a JSON number when one holds it
/// exactly (an integer within 64 bits, or at most 15 significant digits), else the
/// string, so that no digit is lost.
fn number(value: &Value) -> Result<Value, String> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("a DynamoDB number is a string, not {value}"))?;
    if let Ok(integer) = text.parse::<i64>() {
        return Ok(Value::Number(integer.into()));
    }
    if let Ok(integer) = text.parse::<u64>() {
        return Ok(Value::Number(integer.into()));
    }
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let significant = mantissa
        .chars()
        .filter(char::is_ascii_digit)
        .skip_while(|digit| *digit == '0')
        .count();
    let float = text.parse::<f64>().ok().and_then(Number::from_f64);
    Ok(match float {
        Some(float) if significant <= 15 => Value::Number(float),
        _ => Value::String(text.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Kinesis record as AWS's documentation shows one.
    fn kinesis(id: &str, data: &Value) -> Value {
        let data = base64::engine::general_purpose::STANDARD.encode(data.to_string());
        json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "1",
                "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
                "data": data,
                "approximateArrivalTimestamp": 1_545_084_650.987
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": id,
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
            "awsRegion": "us-east-2",
            "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/payments"
        })
    }

    #[test]
    fn kinesis_data_is_the_event_and_the_stream_its_topic() {
        let record = kinesis(
            "shardId-000000000006:4959",
            &json!({"kind": "settled", "order_id": "o-1"}),
        );
        let decoded = kinesis_record(&record).unwrap();
        assert_eq!(decoded.topic.as_deref(), Some("payments"));
        assert_eq!(decoded.key, "kinesis:shardId-000000000006:4959");
        assert_eq!(decoded.event, json!({"kind": "settled", "order_id": "o-1"}));

        let mega = json!({
            "protocol": "mega", "version": 1,
            "event": {"name": "payment.settled", "domain": "billing", "version": 1},
            "object": {"current": {"order_id": "o-1"}}
        });
        let decoded = kinesis_record(&kinesis("shardId-0:1", &mega)).unwrap();
        assert_eq!(
            decoded.topic.as_deref(),
            Some("billing"),
            "a MEGA event's domain"
        );
    }

    #[test]
    fn kinesis_records_that_cannot_be_published_say_why() {
        let mut not_base64 = kinesis("s:2", &json!({}));
        not_base64["kinesis"]["data"] = json!("***");
        let array = kinesis("s:3", &json!([1, 2]));
        let mut not_kinesis = kinesis("s:4", &json!({}));
        not_kinesis["eventSource"] = json!("aws:sqs");
        for (record, says) in [
            (not_base64, "not base64"),
            (array, "JSON but not an object"),
            (not_kinesis, "aws:kinesis"),
        ] {
            let error = kinesis_record(&record).unwrap_err();
            assert!(error.contains(says), "{record}: {error}");
        }
    }

    #[test]
    fn a_dynamodb_change_is_published_with_plain_images() {
        // As AWS's documentation shows a MODIFY record (NEW_AND_OLD_IMAGES).
        let record = json!({
            "eventID": "c81e728d9d4c2f636f067f89cc14862c",
            "eventName": "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": {"Id": {"N": "101"}},
                "NewImage": {
                    "Message": {"S": "This item has changed"},
                    "Id": {"N": "101"},
                    "Price": {"N": "12.5"},
                    "Tags": {"SS": ["a", "b"]},
                    "Sizes": {"NS": ["1", "2"]},
                    "Lines": {"L": [{"M": {"sku": {"S": "x"}, "qty": {"N": "2"}}}]},
                    "Paid": {"BOOL": true},
                    "Note": {"NULL": true},
                    "Blob": {"B": "AAE="},
                    "Huge": {"N": "123456789012345678901234567890"}
                },
                "OldImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                "SequenceNumber": "222",
                "SizeBytes": 59,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2015-06-27T00:48:05.899"
        });
        let decoded = dynamodb_record(&record).unwrap();
        assert_eq!(decoded.topic.as_deref(), Some("orders"));
        assert_eq!(decoded.key, "dynamodb:c81e728d9d4c2f636f067f89cc14862c");
        assert_eq!(
            decoded.event,
            json!({
                "eventName": "MODIFY",
                "table": "orders",
                "keys": {"Id": 101},
                "newImage": {
                    "Message": "This item has changed", "Id": 101, "Price": 12.5,
                    "Tags": ["a", "b"], "Sizes": [1, 2],
                    "Lines": [{"sku": "x", "qty": 2}],
                    "Paid": true, "Note": null, "Blob": "AAE=",
                    "Huge": "123456789012345678901234567890"
                },
                "oldImage": {"Message": "New item!", "Id": 101}
            })
        );
    }

    #[test]
    fn dynamodb_records_that_cannot_be_published_say_why() {
        let base = json!({
            "eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {"pk": {"S": "a"}}}
        });
        let mut no_keys = base.clone();
        no_keys["dynamodb"] = json!({});
        let mut odd_type = base.clone();
        odd_type["dynamodb"]["Keys"] = json!({"pk": {"X": "a"}});
        let mut not_dynamodb = base.clone();
        not_dynamodb["eventSource"] = json!("aws:kinesis");
        for (record, says) in [
            (no_keys, "no dynamodb.Keys"),
            (odd_type, "unknown DynamoDB attribute type X"),
            (not_dynamodb, "aws:dynamodb"),
        ] {
            let error = dynamodb_record(&record).unwrap_err();
            assert!(error.contains(says), "{record}: {error}");
        }
        assert!(dynamodb_record(&base).is_ok());
    }
}
