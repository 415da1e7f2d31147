//! `dead-letters list|show|redrive|discard`, for one actor or every actor of a type.

use mqless_runtime::id::Address;
use mqless_runtime::recovery::DeadLetters;
use mqless_runtime::store::DeadLetter;
use serde_json::{json, Map, Value as Json};

use super::{actor_type, address, address_of, every_actor, message_id, Context};
use crate::output::{time, Printed, Progress};
use crate::DeadLettersCommand;

pub(super) async fn run(context: &Context, command: DeadLettersCommand) -> Result<Printed, String> {
    match command {
        DeadLettersCommand::List {
            actor_type: name,
            id,
        } => {
            let mut rows = Vec::new();
            for address in actors(context, &name, id.as_deref()).await? {
                for letter in letters(context, &address)
                    .list()
                    .await
                    .map_err(|e| e.to_string())?
                {
                    rows.push(row(&address, &letter));
                }
            }
            Ok(Printed::Rows {
                columns: vec!["actor", "id", "at", "status", "attempts", "method", "error"],
                rows,
            })
        }
        DeadLettersCommand::Show { actor, message } => {
            let address = address_of(&actor)?;
            let id = message_id(&message)?;
            let letter = letters(context, &address)
                .get(id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{address} has no dead letter {id}"))?;
            let row = row(&address, &letter);
            let fields = [
                "actor",
                "id",
                "at",
                "status",
                "attempts",
                "error",
                "kind",
                "method",
                "arguments",
                "from",
                "key",
                "due",
                "name",
            ];
            Ok(Printed::Record(
                fields
                    .into_iter()
                    .filter_map(|field| row.get(field).map(|value| (field, value.clone())))
                    .collect(),
            ))
        }
        DeadLettersCommand::Redrive {
            actor_type: name,
            id,
            message,
            all,
        } => redrive(context, &name, id.as_deref(), message.as_deref(), all).await,
        DeadLettersCommand::Discard { actor, message } => {
            let address = address_of(&actor)?;
            let id = message_id(&message)?;
            letters(context, &address)
                .discard(id)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Printed::Said(
                format!("discarded dead letter {id} of {address}"),
                json!({"actor": address.to_string(), "discarded": id.to_string()}),
            ))
        }
    }
}

async fn redrive(
    context: &Context,
    name: &str,
    id: Option<&str>,
    message: Option<&str>,
    all: bool,
) -> Result<Printed, String> {
    if let (Some(id), Some(message)) = (id, message) {
        let address = address(name, id)?;
        let new_id = letters(context, &address)
            .redrive(message_id(message)?)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(Printed::Said(
            format!("redrove {message} of {address}: queued again as {new_id}"),
            json!({"actor": address.to_string(), "redriven": [{"id": message, "new_id": new_id.to_string()}]}),
        ));
    }
    if !all {
        return Err("say which: `redrive <Type> <id> <message id>`, or --all for every dead letter of the actor (or of the type, without an id)".into());
    }
    let targets = actors(context, name, id).await?;
    let mut progress = Progress::new("redriving", Some(targets.len()));
    let mut redriven = Vec::new();
    let mut count = 0;
    for address in &targets {
        let new_ids = letters(context, address)
            .redrive_all()
            .await
            .map_err(|e| format!("redriving {address}: {e} (the ones before it stay redriven)"))?;
        count += new_ids.len();
        if !new_ids.is_empty() {
            redriven.push(json!({"actor": address.to_string(), "count": new_ids.len()}));
        }
        progress.advance(1);
    }
    drop(progress);
    Ok(Printed::Said(
        format!("redrove {count} dead letters of {} actors", redriven.len()),
        json!({"redriven": redriven, "count": count}),
    ))
}

/// One actor, or every actor of the type.
async fn actors(context: &Context, name: &str, id: Option<&str>) -> Result<Vec<Address>, String> {
    match id {
        Some(id) => Ok(vec![address(name, id)?]),
        None => every_actor(context, &actor_type(name)?).await,
    }
}

fn letters(context: &Context, address: &Address) -> DeadLetters {
    context.operator.dead_letters(address.clone())
}

fn row(address: &Address, letter: &DeadLetter) -> Map<String, Json> {
    let mut row = Map::new();
    row.insert("actor".into(), json!(address.to_string()));
    row.insert("id".into(), json!(letter.id.to_string()));
    row.insert("at".into(), json!(time(letter.dead_at)));
    // `failed` (it could not run) or `rejected` (a tell whose method returned `Err`);
    // `kind` is the message's own (tell, ask, ...).
    row.insert("status".into(), json!(letter.kind.as_str()));
    row.insert("attempts".into(), json!(letter.attempts));
    row.insert("error".into(), json!(letter.error));
    match letter.envelope() {
        Ok(envelope) => super::mailbox::describe(&envelope, &mut row),
        Err(error) => {
            row.insert(
                "method".into(),
                json!(format!("<undecodable envelope: {error}>")),
            );
        }
    }
    row
}
