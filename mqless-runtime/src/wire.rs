//! The wire types: what a queued message and a reply look like as bytes. They sit below
//! both the clients (which encode them) and the mailbox engine (which decodes them), so
//! neither reaches into the other.

use serde::{Deserialize, Serialize};

use crate::codec::{self, Limits};
use crate::error::CodecError;
use crate::id::MessageId;

/// Bytes an envelope may add around its body: its field names, key, schedule, reminder
/// and sender, at their longest.
pub(crate) const ENVELOPE_OVERHEAD: usize = 1024;

/// A queued message as stored: the encoded message body and how to treat it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The encoded `{Actor}Message`.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// Whether the sender waits for a reply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ask: bool,
    /// The sender's idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// For a scheduled message: when to deliver it, in milliseconds since the Unix epoch
    /// (also the time part of its id). A drain does not run it before then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// For a scheduled message: the name it can be cancelled by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For a reminder's fire: the reminder, which schedules its next fire when this one
    /// is handled. Its name is `name`, its fire time `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder: Option<ReminderSpec>,
    /// The address (`type/id`) of the actor that sent it, when an actor's handler did
    /// (`Context::sender`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// For an ask made with `reply_to` from a handler: where the outcome goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTo>,
    /// For a reply to such an ask, or its timeout: the ask it settles (the id of the
    /// ask's timeout message). The asker handles the first of the two and drops the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<MessageId>,
    /// The W3C `traceparent` of the send (see [`crate::trace`]): the handler's span
    /// continues that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// An emission its channel refused (the encoded `events::Emission`), as its dead
    /// letter keeps it (the body is empty): redriven into the mailbox, the drain emits
    /// it again, without calling a method.
    #[serde(default, with = "serde_bytes", skip_serializing_if = "Option::is_none")]
    pub emission: Option<Vec<u8>>,
    /// For an ask from a client outside the actors: who asks (on AWS, the client's IAM
    /// `aws:userid`). In key layout v2 its reply is kept in a partition of that asker's
    /// own, which IAM lets only that client read (see [`valid_asker`] and docs/wire.md,
    /// "Replies").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asker: Option<String>,
}

/// The longest asker identity (an IAM role's user id with its session name fits).
pub const MAX_ASKER_LEN: usize = 128;

/// Whether `asker` can name a reply partition: 1 to [`MAX_ASKER_LEN`] characters, each
/// one an IAM user id or session name may hold (letters, digits, `+=,.@_:-`). No `/`,
/// so the asker is always the key's last segment, which is what IAM's `r/*/${aws:userid}`
/// matches.
///
/// # Errors
/// What is wrong with it.
pub fn valid_asker(asker: &str) -> Result<(), String> {
    if asker.is_empty() || asker.len() > MAX_ASKER_LEN {
        return Err(format!(
            "an asker identity is 1 to {MAX_ASKER_LEN} characters, not {}",
            asker.len()
        ));
    }
    match asker
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_:-".contains(*c)))
    {
        Some(c) => Err(format!(
            "an asker identity holds letters, digits and `+=,.@_:-` only (an IAM user id), not {c:?}"
        )),
        None => Ok(()),
    }
}

/// Where the outcome of an ask made with `reply_to` goes: a message to the asker, whose
/// body is `body` with the outcome's MessagePack (a `Reply`) in place of the `len` bytes
/// at `slot`. See `reply.rs` and docs/wire.md, "Replies between actors".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTo {
    /// The asker's address (`type/id`).
    pub to: String,
    /// The asker's reply message with a placeholder at `slot`.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// Byte offset of the placeholder in `body`.
    pub slot: u32,
    /// Byte length of the placeholder.
    pub len: u32,
    /// The ask, named by its timeout message's id, which the reply carries as `answers`.
    pub ask: MessageId,
}

/// A recurring reminder as each of its fires carries it (see `schedule::Reminder`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderSpec {
    /// Milliseconds between fires.
    pub period: u64,
    /// No fire after this time (milliseconds since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// What to do with fires that fell due while nothing ran.
    pub missed: Missed,
    /// The registration this fire belongs to: a newer registration (or a cancel) of the
    /// same name makes the fires of older ones stale.
    pub registration: MessageId,
    /// Fires run in a row so far to catch up (for [`Missed::CatchUp`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub caught_up: u32,
    /// Queued by the previous fire of its chain, not by its registration: such a fire
    /// goes on only while the actor's record knows its chain, so a fire left queued
    /// after the record is gone (its actor stopped or expired) is dropped, not revived.
    #[serde(default, skip_serializing_if = "is_false")]
    pub chained: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a reminder does about fires that fell due while nothing could run it (a handler
/// down, a deploy, a sweep period). With fires due at 20, 30 and 40 s handled at 45 s:
///
/// | policy | runs at 45 s | next fire |
/// |---|---|---|
/// | `Skip` | none: each was late by a period or more | 50 s |
/// | `FireOnce` | one, for all three | 50 s |
/// | `CatchUp { max: 2 }` | two in a row | 50 s |
/// | `CatchUp { max: 5 }` | three in a row (all that were missed) | 50 s |
///
/// A fire is late by a period or more when its next fire is due too. A fire handled
/// within a period of its time runs under every policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Missed {
    /// Drop missed fires; run only fires handled within a period of their time.
    Skip,
    /// Run once for any number of missed fires (the default).
    #[default]
    FireOnce,
    /// Run each missed fire, at most `max` in a row, then skip to the next future fire.
    CatchUp {
        /// The most fires run in a row.
        max: u32,
    },
}

impl Envelope {
    /// An envelope around an encoded message body, carrying the current trace context
    /// (see [`crate::trace`]).
    #[must_use]
    pub fn new(body: Vec<u8>, ask: bool, key: Option<String>) -> Self {
        Self {
            body,
            ask,
            key,
            at: None,
            name: None,
            reminder: None,
            from: None,
            reply_to: None,
            answers: None,
            trace: crate::trace::for_send(),
            emission: None,
            asker: None,
        }
    }

    /// This envelope, scheduled for `at` (milliseconds since the Unix epoch), cancellable
    /// by `name`.
    #[must_use]
    pub fn scheduled(mut self, at: u64, name: Option<String>) -> Self {
        self.at = Some(at);
        self.name = name;
        self
    }

    /// Whether this is a scheduled message not yet due at `now` (milliseconds).
    #[must_use]
    pub fn waits_at(&self, now: u64) -> bool {
        self.at.is_some_and(|at| at > now)
    }

    /// Encodes the envelope; its body (with a reply template, both) must fit
    /// [`Limits::max_message_bytes`].
    ///
    /// # Errors
    /// [`CodecError::TooLarge`] for an oversized body.
    pub fn encode(&self, limits: &Limits) -> Result<Vec<u8>, CodecError> {
        let template = self
            .reply_to
            .as_ref()
            .map_or(0, |reply_to| reply_to.body.len());
        if self.body.len() + template > limits.max_message_bytes {
            return Err(CodecError::TooLarge {
                what: if template > 0 {
                    "message with its reply template"
                } else {
                    "message"
                },
                size: self.body.len() + template,
                limit: limits.max_message_bytes,
            });
        }
        codec::encode(
            self,
            "message envelope",
            limits.max_message_bytes + ENVELOPE_OVERHEAD,
        )
    }

    /// Decodes an envelope read from a mailbox.
    ///
    /// # Errors
    /// Any [`CodecError`]; never panics.
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Self, CodecError> {
        codec::decode(
            bytes,
            "message envelope",
            limits.max_message_bytes + ENVELOPE_OVERHEAD,
            4,
        )
    }
}

/// What an asker gets for its message: in the invoke answer (`reply`, base64) and in
/// the reply item `r#<id>` (`rep`). See docs/wire.md, "Replies".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplyRecord {
    /// The method returned this value (MessagePack).
    Ok(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The method returned `Err` with this error (MessagePack); the state is unchanged.
    Err(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The message was dead-lettered, for this reason, without a reply.
    DeadLettered(String),
    /// A message with the same idempotency key was consumed before: this one was skipped.
    Duplicate,
}

/// The method a message body calls: the key of its one-entry map (docs/wire.md,
/// "Message bodies"), read without decoding the arguments; `None` when the body is not
/// such a map.
#[must_use]
pub fn method_name(body: &[u8]) -> Option<&str> {
    let (&marker, rest) = body.split_first()?;
    if marker != 0x81 {
        return None;
    }
    let (&header, rest) = rest.split_first()?;
    let (len, rest) = match header {
        0xa0..=0xbf => (usize::from(header & 0x1f), rest),
        0xd9 => {
            let (&len, rest) = rest.split_first()?;
            (usize::from(len), rest)
        }
        _ => return None,
    };
    std::str::from_utf8(rest.get(..len)?).ok()
}
