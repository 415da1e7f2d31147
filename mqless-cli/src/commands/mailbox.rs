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
