//! The invocation payloads of MQLess functions: what an actor type's function is invoked
//! with and what it answers, and what the sweeper answers. JSON, as Lambda carries it.

use serde::{Deserialize, Serialize};

use crate::actor::client::{MAX_IDEMPOTENCY_KEY_LEN, MAX_SCHEDULE_NAME_LEN};
use crate::codec::Limits;
use crate::error::Error;
use crate::id::{ActorId, MessageId};
use crate::wire::Envelope;

/// Largest accepted invocation payload: a `send` of the largest message body, base64.
pub const MAX_PAYLOAD_BYTES: usize = 96 * 1024;

/// The shape of an invocation, quoted by every error about one.
const EXPECTED: &str = r#"{"actor": "<id>", "actor_type"?: "<type>", "reply_to"?: "<message id>", "send"?: {"body": "<base64 MessagePack>", "ask"?: bool, "key"?: "<idempotency key>", "after"?: "<message id>", "at"?: <ms since the epoch>, "name"?: "<name>", "trace"?: "<W3C traceparent>", "asker"?: "<IAM user id>"}} (docs/wire.md, "Invocations")"#;

/// What a function is invoked with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invocation {
    /// The id of the actor whose mailbox to drain.
    pub actor: String,
    /// Its actor type. A function refuses an invocation for another type (two types
    /// mapped to one function would otherwise drain the wrong mailbox); absent in
    /// payloads of older clients, and then not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_type: Option<String>,
    /// For asks: the message whose reply to return in the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// How many hand-offs led to this invocation.
    #[serde(default)]
    pub hop: u32,
    /// A message for the function to queue under an id it generates, before draining:
    /// the safe enqueue for clients that do not generate ordered ids themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<SendRequest>,
}

/// A message handed to the function to queue (see [`Invocation::send`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The message body (the MessagePack `{"<method>": {<arguments>}}`), base64.
    pub body: String,
    /// Whether the sender waits for the reply: it comes back in the answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ask: bool,
    /// The sender's idempotency key: a message with a key the actor consumed recently is
    /// skipped (and an ask answered `Duplicate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The last id this sender was given: the new id is greater, so one sender's
    /// messages stay in order whichever function instance queues them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Deliver no earlier than this, in milliseconds since the Unix epoch: a scheduled
    /// tell (see `Request::send_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// The name a scheduled message can be cancelled by (with `at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The sender's W3C `traceparent`: the message's span continues that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// With `ask`: who asks (the client's IAM `aws:userid`). In key layout v2 a reply
    /// that does not come back in the answer is kept where only that identity may read
    /// it (docs/wire.md, "Replies").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asker: Option<String>,
}

impl Invocation {
    /// The invocation that drains actor `address`.
    #[must_use]
    pub fn drain(address: &crate::id::Address) -> Self {
        Self {
            actor: address.id().to_string(),
            actor_type: Some(address.actor_type().to_string()),
            reply_to: None,
            hop: 0,
            send: None,
        }
    }

    /// Checks that this invocation is for actors of type `own`.
    ///
    /// # Errors
    /// [`Error::Config`] naming both types and the setting to fix.
    pub fn check_type(&self, own: &str) -> Result<(), Error> {
        match &self.actor_type {
            Some(asked) if asked != own => Err(Error::Config(format!(
                "this function runs actor type `{own}` but was invoked for actor type `{asked}`; give `{asked}` its own function in MQLESS_FUNCTIONS"
            ))),
            _ => Ok(()),
        }
    }
}

/// What a function answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationResult {
    /// How the drain ended: `Empty`, `Busy`, `Fenced`, `Deadline` or `Quarantined`.
    pub end: String,
    /// Messages applied.
    pub processed: usize,
    /// Messages dead-lettered.
    pub dead_lettered: usize,
    /// Why the actor is quarantined, when `end` is `Quarantined`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    /// The encoded reply to `reply_to`, base64, when this invocation committed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// DynamoDB requests this invocation made.
    #[serde(default)]
    pub dynamodb_requests: u64,
    /// DynamoDB write units this invocation consumed.
    #[serde(default)]
    pub write_units: f64,
    /// DynamoDB read units this invocation consumed.
    #[serde(default)]
    pub read_units: f64,
    /// The id the function gave the message of a `send`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// An invalid invocation: what is wrong, and the expected shape.
fn invalid(what: impl std::fmt::Display) -> Error {
    Error::InvalidInvocation(format!("{what}; expected {EXPECTED}"))
}

/// Parses and validates an invocation payload.
///
/// # Errors
/// [`Error::InvalidInvocation`] naming what is wrong and the expected shape: too large,
/// not the expected JSON, an invalid actor id or message id, `send` with `reply_to`.
/// Never panics.
pub fn parse_invocation(payload: &[u8]) -> Result<(Invocation, ActorId, Option<MessageId>), Error> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(invalid(format_args!(
            "the invocation payload is {} bytes, over {MAX_PAYLOAD_BYTES}",
            payload.len()
        )));
    }
    let invocation: Invocation = serde_json::from_slice(payload)
        .map_err(|e| invalid(format_args!("the invocation payload does not parse ({e})")))?;
    let id = ActorId::new(invocation.actor.as_str()).map_err(invalid)?;
    let reply_to = invocation
        .reply_to
        .as_deref()
        .map(MessageId::parse)
        .transpose()
        .map_err(|e| invalid(format_args!("`reply_to`: {e}")))?;
    if invocation.send.is_some() && reply_to.is_some() {
        return Err(invalid(
            "`send` and `reply_to` do not go together (an ask's `send` returns its reply)",
        ));
    }
    Ok((invocation, id, reply_to))
}

impl SendRequest {
    /// The envelope to queue, and the id the new one must exceed.
    ///
    /// # Errors
    /// [`Error::InvalidInvocation`] for a body that is not base64 or too large, an
    /// invalid idempotency key or `after` id.
    pub fn envelope(&self, limits: &Limits) -> Result<(Envelope, Option<MessageId>), Error> {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD
            .decode(&self.body)
            .map_err(|e| invalid(format_args!("`send.body` is not base64 ({e})")))?;
        if let Some(key) = &self.key {
            if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
                return Err(invalid(Error::InvalidIdempotencyKey { len: key.len() }));
            }
        }
        let after = self
            .after
            .as_deref()
            .map(MessageId::parse)
            .transpose()
            .map_err(|e| invalid(format_args!("`send.after`: {e}")))?;
        if let Some(trace) = &self.trace {
            crate::trace::TraceParent::parse(trace)
                .map_err(|e| invalid(format_args!("`send.trace`: {e}")))?;
        }
        if let Some(asker) = &self.asker {
            if !self.ask {
                return Err(invalid("`send.asker` names who asks: it goes with `ask`"));
            }
            crate::wire::valid_asker(asker)
                .map_err(|e| invalid(format_args!("`send.asker`: {e}")))?;
        }
        let envelope = Envelope {
            trace: self.trace.clone(),
            asker: self.asker.clone(),
            ..Envelope::new(body, self.ask, self.key.clone())
        };
        let envelope = match (self.at, &self.name) {
            (Some(_), _) if self.ask => {
                return Err(invalid(
                    "`send.at` schedules a tell: it does not go with `ask`",
                ));
            }
            (Some(at), name) => {
                if name
                    .as_ref()
                    .is_some_and(|n| n.is_empty() || n.len() > MAX_SCHEDULE_NAME_LEN)
                {
                    return Err(invalid(format_args!(
                        "`send.name` must be 1 to {MAX_SCHEDULE_NAME_LEN} bytes"
                    )));
                }
                envelope.scheduled(at, name.clone())
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "`send.name` names a scheduled message: it needs `at`",
                ))
            }
            (None, None) => envelope,
        };
        // Checks the body's size as the client would.
        envelope.encode(limits).map_err(invalid)?;
        Ok((envelope, after))
    }
}

/// What the sweeper function is asked: by default one sweep; `{"audit": true}` (the
/// generated template's hourly schedule) an audit; `{"every_ms": 5000}` a sweep every
/// five seconds until the invocation's deadline (less a margin), so timers run within
/// seconds of their time rather than within the schedule's minute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepRequest {
    /// Read the whole table instead of the due index (see `recovery::audit`).
    #[serde(default)]
    pub audit: bool,
    /// Sweep again this many milliseconds after each sweep began, until the deadline;
    /// absent or 0: sweep once.
    #[serde(default)]
    pub every_ms: Option<u64>,
    /// Stop repeating after this many milliseconds, before the deadline if sooner.
    #[serde(default)]
    pub for_ms: Option<u64>,
}

/// What the sweeper function answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepResult {
    /// Actors found with something due.
    pub pending: usize,
    /// How many of them were woken.
    pub nudged: usize,
    /// The ones whose wake-up failed, with the reason; the next sweep retries them.
    pub failed: Vec<String>,
    /// Quarantined actors with something due: listed, not woken.
    #[serde(default)]
    pub quarantined: Vec<String>,
    /// Entries of the due index read (an audit: actors found).
    #[serde(default)]
    pub entries: usize,
    /// `false` when the sweep ran out of time; the next one continues where it stopped.
    #[serde(default = "complete")]
    pub complete: bool,
}

fn complete() -> bool {
    true
}

impl SweepResult {
    /// The answer for `report`.
    #[must_use]
    pub fn of(report: &crate::recovery::SweepReport) -> Self {
        Self {
            pending: report.pending.len(),
            nudged: report.nudged,
            failed: report
                .failed
                .iter()
                .map(|(address, error)| format!("{address}: {error}"))
                .collect(),
            quarantined: report.quarantined.iter().map(ToString::to_string).collect(),
            entries: report.entries,
            complete: report.complete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_refuses_invocations_for_another_actor_type() {
        let (invocation, _, _) =
            parse_invocation(br#"{"actor":"c1","actor_type":"Account"}"#).unwrap();
        assert!(invocation.check_type("Account").is_ok());
        let error = invocation.check_type("Counter").unwrap_err().to_string();
        assert!(
            error.contains("runs actor type `Counter` but was invoked for actor type `Account`"),
            "{error}"
        );
        let (untyped, _, _) = parse_invocation(br#"{"actor":"c1"}"#).unwrap();
        assert!(
            untyped.check_type("Counter").is_ok(),
            "older payloads are accepted"
        );
    }

    #[test]
    fn payloads_are_validated() {
        let (invocation, id, reply) = parse_invocation(br#"{"actor":"c1","hop":2}"#).unwrap();
        assert_eq!((invocation.hop, id.as_str(), reply), (2, "c1", None));
        for bad in [
            &b"{}"[..],
            b"[]",
            b"not json",
            br#"{"actor":""}"#,
            br#"{"actor":"a/b"}"#,
            br#"{"actor":"c1","reply_to":"nope"}"#,
            br#"{"actor":"c1","extra":1}"#,
        ] {
            assert!(
                parse_invocation(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse_invocation(&vec![b' '; MAX_PAYLOAD_BYTES + 1]).is_err());
    }

    #[test]
    fn send_invocations_are_validated_before_anything_is_queued() {
        let limits = Limits::DEFAULT;
        // {"get": {}} in base64.
        let (invocation, _, reply) =
            parse_invocation(br#"{"actor":"c1","send":{"body":"gaNnZXSA","ask":true,"key":"k","after":"01MCC5RM000000000000000001"}}"#)
                .unwrap();
        assert_eq!(reply, None);
        let (envelope, after) = invocation.send.unwrap().envelope(&limits).unwrap();
        assert_eq!(
            envelope,
            Envelope::new(
                vec![0x81, 0xa3, b'g', b'e', b't', 0x80],
                true,
                Some("k".into())
            )
        );
        assert_eq!(after.unwrap().to_string(), "01MCC5RM000000000000000001");
        let refused = |payload: &[u8], expected: &str| {
            let error = parse_invocation(payload)
                .and_then(|(invocation, _, _)| invocation.send.unwrap().envelope(&limits).map(drop))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
            assert!(
                error.contains(r#""actor": "<id>""#),
                "quotes the expected shape: {error}"
            );
        };
        refused(
            br#"{"actor":"c1","reply_to":"01MCC5RM000000000000000001","send":{"body":""}}"#,
            "do not go together",
        );
        refused(br#"{"actor":"c1","send":{"body":"%%%"}}"#, "not base64");
        refused(
            br#"{"actor":"c1","send":{"body":"","key":""}}"#,
            "idempotency key",
        );
        refused(
            br#"{"actor":"c1","send":{"body":"","after":"nope"}}"#,
            "send.after",
        );
        refused(
            br#"{"actor":"c1","send":{"bdy":""}}"#,
            "unknown field `bdy`",
        );
        refused(br#"{"id":"c1"}"#, "unknown field `id`");
        refused(
            br#"{"actor":"c1","send":{"body":"","ask":true,"at":1}}"#,
            "schedules a tell",
        );
        refused(
            br#"{"actor":"c1","send":{"body":"","name":"n"}}"#,
            "needs `at`",
        );
        let (scheduled, _, _) =
            parse_invocation(br#"{"actor":"c1","send":{"body":"gaNnZXSA","at":5,"name":"n"}}"#)
                .unwrap();
        let (envelope, _) = scheduled.send.unwrap().envelope(&limits).unwrap();
        assert_eq!(
            (envelope.at, envelope.name.as_deref()),
            (Some(5), Some("n"))
        );
        let huge = format!(
            r#"{{"actor":"c1","send":{{"body":"{}"}}}}"#,
            "A".repeat(88_000)
        );
        refused(huge.as_bytes(), "message");
    }
}
