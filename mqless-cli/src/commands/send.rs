//! `send`: a message through the actor type's function (the `send` invocation of
//! docs/wire.md), which validates the body against the actor type, queues it and drains.

use std::time::Duration;

use mqless_runtime::actor::client::AskerIdentity as _;
use mqless_runtime::aws::payload::{Invocation, SendRequest};
use mqless_runtime::aws::CallerIdentity;
use mqless_runtime::store::Store as _;
use mqless_runtime::trace::TraceParent;
use mqless_runtime::wire::ReplyRecord;
use serde_json::{json, Value as Json};

use super::{address_of, message_id, Context};
use crate::output::Printed;
use crate::{json, SendArgs};

/// How long an ask waits for a reply another invocation commits.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn run(context: &Context, args: SendArgs) -> Result<Printed, String> {
    let address = address_of(&args.actor)?;
    let arguments: Json = serde_json::from_str(&args.json).map_err(|e| {
        format!("--json is not JSON ({e}): give the arguments as an object, like '{{\"by\": 5}}'")
    })?;
    let body = json::message_body(&args.method, &arguments)?;
    let trace = args
        .traceparent
        .as_deref()
        .map(|text| TraceParent::parse(text).map(|t| t.to_string()))
        .transpose()
        .map_err(|e| e.to_string())?;
    // In key layout v2 an ask names who asks: a reply that does not come back in the
    // answer is kept where only that identity may read it.
    let asker = match context.environment.key_layout() {
        layout if layout.apart() && args.ask => Some(
            CallerIdentity::from_env(context.environment.sdk_config())
                .asker()
                .await
                .map_err(|e| e.to_string())?,
        ),
        _ => None,
    };
    let invocation = Invocation {
        actor: address.id().as_str().to_owned(),
        actor_type: Some(address.actor_type().as_str().to_owned()),
        reply_to: None,
        hop: 0,
        send: Some(SendRequest {
            body: json::base64(&body),
            ask: args.ask,
            key: args.key.clone(),
            after: None,
            at: None,
            name: None,
            trace,
            asker: asker.as_deref().map(str::to_owned),
        }),
    };
    let answer = context
        .environment
        .invoker()
        .invoke(address.actor_type(), &invocation, true)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the function gave no answer")?;
    let id = answer
        .id
        .as_deref()
        .ok_or("the function did not say which id it gave the message; is it an MQLess handler of this version?")?;
    let call = format!("{address} {}({})", args.method, arguments);
    if !args.ask {
        return Ok(Printed::Said(
            format!("queued {call} as {id}"),
            json!({"id": id, "end": answer.end}),
        ));
    }
    let record = match &answer.reply {
        Some(encoded) => decode_base64(encoded)?,
        // Another invocation holds the actor: it commits the reply to the table.
        None => context
            .environment
            .store()
            .wait_reply(&address, message_id(id)?, asker.as_deref(), REPLY_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no reply to {id} within {REPLY_TIMEOUT:?}; the message stays queued and runs later"))?,
    };
    let record: ReplyRecord = rmp_serde::from_slice(&record)
        .map_err(|e| format!("the reply is not a reply record: {e}"))?;
    let (outcome, value) = match record {
        ReplyRecord::Ok(bytes) => ("ok", json::from_msgpack(&bytes)?),
        ReplyRecord::Err(bytes) => ("err", json::from_msgpack(&bytes)?),
        ReplyRecord::DeadLettered(reason) => ("dead_lettered", json!(reason)),
        ReplyRecord::Duplicate => ("duplicate", Json::Null),
    };
    let text = match outcome {
        "ok" => format!("{value}"),
        "err" => format!("the method returned an error: {value}"),
        "dead_lettered" => format!("no reply: the message was dead-lettered ({value})"),
        _ => "skipped: a message with this idempotency key was consumed before".into(),
    };
    Ok(Printed::Said(
        text,
        json!({"id": id, "outcome": outcome, "reply": value}),
    ))
}

fn decode_base64(encoded: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("the reply is not base64: {e}"))
}
