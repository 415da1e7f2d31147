//! `actors list|show|delete` and `state reset`.

use mqless_runtime::recovery::{ActorReport, COUNT_QUEUED_UP_TO};
use mqless_runtime::store::Retired;
use serde_json::{json, Value as Json};

use super::{actor_type, address, address_of, confirm, every_actor, Context};
use crate::output::{time, Printed};
use crate::{json, ActorsCommand, StateCommand};

pub(super) async fn run(context: &Context, command: ActorsCommand) -> Result<Printed, String> {
    match command {
        ActorsCommand::List {
            actor_type: name,
            limit,
            after,
            all,
        } => {
            let actor_type = actor_type(&name)?;
            let listed = if all {
                every_actor(context, &actor_type).await?
            } else {
                let after = after.map(|id| address(&name, &id)).transpose()?;
                let limit = limit.clamp(1, 10_000);
                context
                    .operator
                    .list(&actor_type, after.as_ref(), limit)
                    .await
                    .map_err(|e| e.to_string())?
            };
            let rows = listed
                .iter()
                .map(|address| {
                    let mut row = serde_json::Map::new();
                    row.insert("id".into(), json!(address.id().as_str()));
                    row
                })
                .collect();
            Ok(Printed::Rows {
                columns: vec!["id"],
                rows,
            })
        }
        ActorsCommand::Show(actor) => {
            let address = address_of(&actor)?;
            let report = context
                .operator
                .inspect(&address)
                .await
                .map_err(|e| e.to_string())?;
            if !report.exists() {
                return Err(format!(
                    "{address} has no state, no queued messages and no dead letters (never sent to, or deleted)"
                ));
            }
            Ok(Printed::Record(shown(&report)))
        }
        ActorsCommand::Delete { actor, yes } => {
            let address = address_of(&actor)?;
            let report = context
                .operator
                .inspect(&address)
                .await
                .map_err(|e| e.to_string())?;
            if !report.exists() {
                return Err(format!("{address} does not exist; nothing to delete"));
            }
            confirm(
                &format!(
                    "Delete {address}: its state (version {}), {} queued messages and {} dead letters?",
                    report.version,
                    queued(&report),
                    report.dead_letters
                ),
                actor.id.as_str(),
                yes,
            )?;
            let outcome = context
                .operator
                .delete(&address)
                .await
                .map_err(|e| e.to_string())?;
            retired(&address.to_string(), "deleted", outcome)
        }
    }
}

pub(super) async fn run_state(context: &Context, command: StateCommand) -> Result<Printed, String> {
    let StateCommand::Reset { actor, yes } = command;
    let address = address_of(&actor)?;
    confirm(
        &format!("Reset the state of {address} to its type's default?"),
        actor.id.as_str(),
        yes,
    )?;
    let outcome = context
        .operator
        .reset_state(&address)
        .await
        .map_err(|e| e.to_string())?;
    retired(&address.to_string(), "reset to its default state", outcome)
}

fn retired(address: &str, done: &str, outcome: Retired) -> Result<Printed, String> {
    match outcome {
        Retired::Done => Ok(Printed::Said(
            format!("{address} {done}"),
            json!({"actor": address, "done": true}),
        )),
        Retired::Missing => Err(format!("{address} does not exist; nothing changed")),
        Retired::Busy => Err(format!(
            "{address} is being drained right now (its lease is held); nothing changed: try again in a few seconds"
        )),
    }
}

fn queued(report: &ActorReport) -> String {
    if report.queued >= COUNT_QUEUED_UP_TO {
        format!("at least {COUNT_QUEUED_UP_TO}")
    } else {
        report.queued.to_string()
    }
}

/// The fields `actors show` prints.
fn shown(report: &ActorReport) -> Vec<(&'static str, Json)> {
    let state = match &report.state {
        // The type's default: never committed, or reset.
        None => Json::Null,
        Some(bytes) => json::from_msgpack(bytes).unwrap_or_else(|e| json!(format!("<{e}>"))),
    };
    let lease = report.lease_expires_at.map_or(json!("free"), |at| {
        json!(format!("held until {}", time(at)))
    });
    let quarantine = report.quarantine.as_ref().map_or(json!("no"), |q| {
        json!(format!("since {}: {}", time(q.since), q.reason))
    });
    vec![
        ("actor", json!(report.address.to_string())),
        ("id", json!(report.address.id().as_str())),
        ("version", json!(report.version)),
        ("lease", lease),
        ("quarantine", quarantine),
        ("damage", json!(report.damage)),
        ("expires", json!(report.expires_at.map(time))),
        // A number, or "at least N" past what `inspect` counts.
        (
            "queued",
            if report.queued >= COUNT_QUEUED_UP_TO {
                json!(queued(report))
            } else {
                json!(report.queued)
            },
        ),
        ("dead_letters", json!(report.dead_letters)),
        ("last_error", json!(report.last_error)),
        ("state", state),
    ]
}
