//! The invocation payloads of MQLess functions: what an actor type's function is invoked
//! with and what it answers, and what the sweeper answers. JSON, as Lambda carries it.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::id::{ActorId, MessageId};

/// Largest accepted invocation payload.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

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
}

/// Parses and validates an invocation payload.
///
/// # Errors
/// [`Error::Config`] naming what is wrong: too large, not the expected JSON, an invalid
/// actor id or message id. Never panics.
pub fn parse_invocation(payload: &[u8]) -> Result<(Invocation, ActorId, Option<MessageId>), Error> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(Error::Config(format!(
            "invocation payload is {} bytes, over {MAX_PAYLOAD_BYTES}; expected {{\"actor\": \"<id>\"}}",
            payload.len()
        )));
    }
    let invocation: Invocation = serde_json::from_slice(payload).map_err(|e| {
        Error::Config(format!("invocation payload is not {{\"actor\": \"<id>\", \"reply_to\"?: \"<message id>\"}}: {e}"))
    })?;
    let id = ActorId::new(invocation.actor.as_str())?;
    let reply_to = invocation
        .reply_to
        .as_deref()
        .map(MessageId::parse)
        .transpose()?;
    Ok((invocation, id, reply_to))
}

/// What the sweeper function answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepResult {
    /// Actors found with queued messages.
    pub pending: usize,
    /// How many of them were woken.
    pub nudged: usize,
    /// The ones whose wake-up failed, with the reason; the next sweep retries them.
    pub failed: Vec<String>,
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
}
