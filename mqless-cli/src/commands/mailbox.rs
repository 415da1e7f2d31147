//! `mailbox peek`: queued messages, decoded, without running them.

use mqless_runtime::wire::Envelope;
use serde_json::{json, Map, Value as Json};

use super::{address_of, Context};
use crate::output::{time, Printed};
use crate::{json, MailboxCommand};

pub(super) async fn run(context: &Context, command: MailboxCommand) -> Result<Printed, String> {
    let MailboxCommand::Peek { actor, limit } = command;
    let address = address_of(&actor)?;
    let queued = context
        .operator
        .mailbox(&address, limit.clamp(1, 1000))
        .await
        .map_err(|e| e.to_string())?;
    let rows = queued
        .iter()
        .map(|message| {
            let mut row = Map::new();
            row.insert("id".into(), json!(message.id.to_string()));
            row.insert("sent".into(), json!(time(message.id.timestamp_millis())));
            match &message.envelope {
                Ok(envelope) => describe(envelope, &mut row),
                Err(error) => {
                    row.insert("kind".into(), json!("undecodable"));
                    row.insert("error".into(), json!(error));
                }
            }
            row
        })
        .collect();
    Ok(Printed::Rows {
        columns: vec!["id", "sent", "kind", "method", "arguments", "from"],
        rows,
    })
}

/// The envelope's fields as columns: what kind of message, which call, from whom.
pub(super) fn describe(envelope: &Envelope, row: &mut Map<String, Json>) {
    if let Some(encoded) = &envelope.emission {
        describe_emission(encoded, row);
        return;
    }
    let kind = if envelope.reminder.is_some() {
        "reminder"
    } else if envelope.answers.is_some() {
        "reply"
    } else if envelope.at.is_some() {
        "scheduled"
    } else if envelope.ask || envelope.reply_to.is_some() {
        "ask"
    } else {
        "tell"
    };
    let (method, arguments) = json::describe_body(&envelope.body);
    row.insert("kind".into(), json!(kind));
    row.insert("method".into(), json!(method));
    row.insert("arguments".into(), arguments);
    row.insert("from".into(), json!(envelope.from));
    if let Some(at) = envelope.at {
        row.insert("due".into(), json!(time(at)));
    }
    if let Some(name) = &envelope.name {
        row.insert("name".into(), json!(name));
    }
    if let Some(key) = &envelope.key {
        row.insert("key".into(), json!(key));
    }
}

/// An emission its channel refused (the envelope of an `undeliverable` dead letter): its
/// channel and what it carries.
fn describe_emission(encoded: &[u8], row: &mut Map<String, Json>) {
    row.insert("kind".into(), json!("emission"));
    let limits = mqless_runtime::codec::Limits::DEFAULT;
    match mqless_runtime::codec::decode::<mqless_runtime::events::Emission>(
        encoded,
        "emission",
        limits.max_message_bytes,
        limits.max_depth,
    ) {
        Ok(emission) => {
            row.insert("channel".into(), json!(emission.channel));
            row.insert("emission".into(), json!(emission.id.to_string()));
            row.insert(
                "payload".into(),
                serde_json::to_value(&emission.payload).unwrap_or(Json::Null),
            );
        }
        Err(error) => {
            row.insert(
                "payload".into(),
                json!(format!("<undecodable emission: {error}>")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use mqless_runtime::events::{Emission, Payload};
    use mqless_runtime::id::MessageId;

    #[test]
    fn an_undeliverable_emission_shows_its_channel_and_payload() {
        let emission = Emission {
            id: MessageId::generate(1, None),
            channel: "shipping".into(),
            payload: Payload::plaintext("order 1"),
        };
        let mut envelope = Envelope::new(Vec::new(), false, None);
        envelope.emission =
            Some(mqless_runtime::codec::encode(&emission, "emission", usize::MAX).unwrap());
        let mut row = Map::new();
        describe(&envelope, &mut row);
        assert_eq!(row["kind"], "emission");
        assert_eq!(row["channel"], "shipping");
        assert_eq!(row["emission"], emission.id.to_string());
        assert_eq!(row["payload"], json!({"Plaintext": "order 1"}));
    }
}
