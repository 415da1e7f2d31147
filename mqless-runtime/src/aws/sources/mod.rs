//! Events from AWS services, decoded for publishing: SQS records (SNS notifications
//! delivered over SQS unwrapped), EventBridge events, and the records of Kinesis and
//! DynamoDB streams (`streams`). Each yields the event (a JSON object), the topic it
//! goes to, and the source's id for it, which makes publishing it idempotent.

mod streams;

use serde_json::Value;

pub use streams::{dynamodb_record, kinesis_record};

use crate::events::MegaEvent;

/// An event from an AWS source, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceEvent {
    /// The topic: the message attribute `topic`, else a MEGA event's `event.domain`,
    /// else (EventBridge) the event's `source`; `None`: the function's default topic.
    pub topic: Option<String>,
    /// The source's id of the message (SQS `messageId`, SNS `MessageId`, EventBridge
    /// `id`): the publish's idempotency key.
    pub key: String,
    /// The event.
    pub event: Value,
}

/// What kind of invocation payload an events function got.
#[derive(Debug)]
#[non_exhaustive]
pub enum SourcePayload<'a> {
    /// An SQS batch: its records.
    Sqs(&'a [Value]),
    /// A batch of one shard of a Kinesis data stream: its records, in order.
    Kinesis(&'a [Value]),
    /// A batch of one shard of a DynamoDB stream: its records, in order.
    DynamoDbStream(&'a [Value]),
    /// One EventBridge event.
    EventBridge(&'a Value),
    /// Anything else (a drain invocation of a topic).
    Other,
}

/// Tells a batch of records (by its first record's `eventSource`: SQS unless it is
/// `aws:kinesis` or `aws:dynamodb`) and an EventBridge event from other invocations.
#[must_use]
pub fn classify(payload: &Value) -> SourcePayload<'_> {
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let source = records
            .first()
            .and_then(|record| record.get("eventSource"))
            .and_then(Value::as_str);
        return match source {
            Some("aws:kinesis") => SourcePayload::Kinesis(records),
            Some("aws:dynamodb") => SourcePayload::DynamoDbStream(records),
            _ => SourcePayload::Sqs(records),
        };
    }
    if payload.get("detail-type").is_some() && payload.get("source").is_some() {
        return SourcePayload::EventBridge(payload);
    }
    SourcePayload::Other
}

/// The SQS record's message id, for `batchItemFailures` (empty when it has none).
#[must_use]
pub fn sqs_message_id(record: &Value) -> &str {
    record
        .get("messageId")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A stream record's sequence number, for `batchItemFailures` (Lambda resumes the
/// shard there): `kinesis.sequenceNumber` or `dynamodb.SequenceNumber`; empty when it
/// has none.
#[must_use]
pub fn sequence_number(record: &Value) -> &str {
    record
        .pointer("/kinesis/sequenceNumber")
        .or_else(|| record.pointer("/dynamodb/SequenceNumber"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Decodes one SQS record: its body is the event (JSON), or an SNS notification whose
/// `Message` is.
///
/// # Errors
/// What is wrong, for the log: not from SQS, no body, a body or SNS message that is not
/// a JSON object (binary and text payloads are refused, not dropped: SQS retries them
/// and then moves them to the queue's dead-letter queue).
pub fn sqs_record(record: &Value) -> Result<SourceEvent, String> {
    if record.get("eventSource").and_then(Value::as_str) != Some("aws:sqs") {
        return Err("the record's eventSource is not aws:sqs".into());
    }
    let id = sqs_message_id(record);
    if id.is_empty() {
        return Err("the record has no messageId".into());
    }
    let body = record
        .get("body")
        .and_then(Value::as_str)
        .ok_or("the record has no body")?;
    let body = crate::aws::payload_kinds::decode_text(body)?;
    let attribute = record
        .pointer("/messageAttributes/topic/stringValue")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if body.get("Type").and_then(Value::as_str) == Some("Notification") {
        return sns_notification(&body, attribute);
    }
    Ok(SourceEvent {
        topic: attribute.or_else(|| mega_domain(&body)),
        key: format!("sqs:{id}"),
        event: object(body)?,
    })
}

/// An SNS notification delivered over SQS (without raw message delivery).
fn sns_notification(
    notification: &Value,
    attribute: Option<String>,
) -> Result<SourceEvent, String> {
    let id = notification
        .get("MessageId")
        .and_then(Value::as_str)
        .ok_or("the SNS notification has no MessageId")?;
    let message = notification
        .get("Message")
        .and_then(Value::as_str)
        .ok_or("the SNS notification has no Message")?;
    let event = crate::aws::payload_kinds::decode_text(message)?;
    let attribute = attribute.or_else(|| {
        notification
            .pointer("/MessageAttributes/topic/Value")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    Ok(SourceEvent {
        topic: attribute.or_else(|| mega_domain(&event)),
        key: format!("sns:{id}"),
        event: object(event)?,
    })
}

/// Decodes an EventBridge event: the whole event is published (`detail-type`, `source`,
/// `detail`, ...), so subscription patterns read like EventBridge rules.
///
/// # Errors
/// When it has no `id`.
pub fn eventbridge(event: &Value) -> Result<SourceEvent, String> {
    let id = event
        .get("id")
        .and_then(Value::as_str)
        .ok_or("the EventBridge event has no id")?;
    let topic = event.get("detail").and_then(mega_domain).or_else(|| {
        event
            .get("source")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    Ok(SourceEvent {
        topic,
        key: format!("eventbridge:{id}"),
        event: object(event.clone())?,
    })
}

fn mega_domain(event: &Value) -> Option<String> {
    MegaEvent::recognize(event)?.event.domain
}

fn object(event: Value) -> Result<Value, String> {
    if event.is_object() {
        Ok(event)
    } else {
        Err("the event is not a JSON object; publish objects, whose fields patterns match".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str, body: &str, topic: Option<&str>) -> Value {
        let mut record = json!({"messageId": id, "eventSource": "aws:sqs", "body": body});
        if let Some(topic) = topic {
            record["messageAttributes"] =
                json!({"topic": {"stringValue": topic, "dataType": "String"}});
        }
        record
    }

    #[test]
    fn sqs_bodies_sns_notifications_and_mega_envelopes_decode() {
        let plain = sqs_record(&record("m1", r#"{"kind": "placed"}"#, Some("orders"))).unwrap();
        assert_eq!(plain.topic.as_deref(), Some("orders"));
        assert_eq!(plain.key, "sqs:m1");
        assert_eq!(plain.event, json!({"kind": "placed"}));

        let sns = json!({
            "Type": "Notification", "MessageId": "n1",
            "Message": r#"{"kind": "paid"}"#,
            "MessageAttributes": {"topic": {"Type": "String", "Value": "payments"}}
        });
        let unwrapped = sqs_record(&record("m2", &sns.to_string(), None)).unwrap();
        assert_eq!(unwrapped.topic.as_deref(), Some("payments"));
        assert_eq!(
            unwrapped.key, "sns:n1",
            "SNS's id: the same notification on two queues is one event"
        );
        assert_eq!(unwrapped.event, json!({"kind": "paid"}));

        let mega = json!({
            "protocol": "mega", "version": "1",
            "event": {"name": "order.placed", "domain": "orders", "subject": "o-7"},
            "object": {"current": {"total": 5}}
        });
        let decoded = sqs_record(&record("m3", &mega.to_string(), None)).unwrap();
        assert_eq!(
            decoded.topic.as_deref(),
            Some("orders"),
            "a MEGA event's domain"
        );
        let typed = MegaEvent::recognize(&decoded.event).unwrap();
        assert_eq!(typed.event.subject.as_deref(), Some("o-7"));
    }

    #[test]
    fn text_and_binary_bodies_are_published_as_sqs_mega_reads_them() {
        let text = sqs_record(&record("m", "Hello World!", Some("notes"))).unwrap();
        assert_eq!(text.event, json!({"plaintext": "Hello World!"}));
        let binary = sqs_record(&record("m", "AAEC/w==", Some("blobs"))).unwrap();
        assert_eq!(binary.event, json!({"binary": "AAEC/w=="}));
        let sns = json!({"Type": "Notification", "MessageId": "n", "Message": "hello there"});
        let unwrapped = sqs_record(&record("m", &sns.to_string(), Some("notes"))).unwrap();
        assert_eq!(unwrapped.event, json!({"plaintext": "hello there"}));
    }

    #[test]
    fn what_cannot_be_published_says_why() {
        for (body, says) in [
            ("[1, 2]", "JSON but not an object (an array)"),
            (
                &json!({"Type": "Notification", "MessageId": "n", "Message": "[1]"}).to_string(),
                "an array",
            ),
        ] {
            let error = sqs_record(&record("m", body, None)).unwrap_err();
            assert!(error.contains(says), "{body}: {error}");
        }
        let error = sqs_record(&json!({"messageId": "m", "body": "{}"})).unwrap_err();
        assert!(error.contains("aws:sqs"), "{error}");
    }

    #[test]
    fn eventbridge_events_are_published_whole() {
        let event = json!({
            "version": "0", "id": "e1", "detail-type": "OrderPlaced",
            "source": "shop.orders", "detail": {"order_id": "o-1"}
        });
        assert!(matches!(classify(&event), SourcePayload::EventBridge(_)));
        let decoded = eventbridge(&event).unwrap();
        assert_eq!(decoded.topic.as_deref(), Some("shop.orders"));
        assert_eq!(decoded.key, "eventbridge:e1");
        assert_eq!(decoded.event, event);
        assert!(matches!(
            classify(&json!({"Records": []})),
            SourcePayload::Sqs(_)
        ));
        assert!(matches!(
            classify(&json!({"actor": "x"})),
            SourcePayload::Other
        ));
    }
}
