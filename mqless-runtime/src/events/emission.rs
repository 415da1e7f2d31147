//! Emitting to channels outside MQLess (an SNS topic, an SQS queue, an EventBridge bus):
//! a handler's [`Context::emit`](crate::Context::emit) is committed with its state
//! change, in the state record's bookkeeping, and an [`Emitter`] delivers it after the
//! commit, before the batch's messages are deleted. So an emission is delivered at least
//! once (again only when a crash cut the delivery short), in the order the actor emitted,
//! always under the same id, and never when its handler failed.

use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::Payload;
use crate::error::{EmitError, Error};
use crate::id::{Address, MessageId};
use crate::BoxFuture;

/// Longest channel name.
pub const MAX_CHANNEL_LEN: usize = 64;

/// Deepest nesting of an encoded [`Emission`] (its payload's objects and arrays, plus
/// three levels of its own): it waits in the state record's bookkeeping, which is read
/// with a depth limit of its own.
pub const MAX_EMISSION_DEPTH: usize = 32;

/// The default of `DrainConfig::max_emission_bytes_per_message`: 16 KiB, room for
/// events of a few KB while every batch keeps room for them in its state record.
pub const DEFAULT_MAX_EMISSION_BYTES: usize = 16 * 1024;

/// Checks a channel name: 1 to [`MAX_CHANNEL_LEN`] ASCII letters, digits, `-` or `_`
/// (it names an environment variable and a template parameter when deployed).
///
/// # Errors
/// [`Error::InvalidChannel`] saying which rule it broke.
pub fn check_channel(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_CHANNEL_LEN {
        Some("it is longer than 64 bytes")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        Some("it may only hold ASCII letters, digits, `-` and `_`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidChannel {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// One event emitted to a channel, as the state record keeps it until it is delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Emission {
    /// Its id, the same on every delivery: an SQS FIFO queue's deduplication id, the
    /// event id consumers deduplicate by. Ids of one actor's emissions grow in the order
    /// it emitted.
    #[serde(rename = "i")]
    pub id: MessageId,
    /// The channel it goes to.
    #[serde(rename = "c")]
    pub channel: String,
    /// What it carries.
    #[serde(rename = "p")]
    pub payload: Payload,
}

/// Delivers emissions to channels. Implementations must deliver each call's emission
/// before returning `Ok`, and may be called again with an emission they delivered (after
/// a crash): targets and consumers tell the repeat by [`Emission::id`].
pub trait Emitter: Send + Sync + 'static {
    /// Delivers `emission`, emitted by the actor at `from`.
    fn emit<'a>(
        &'a self,
        from: &'a Address,
        emission: &'a Emission,
    ) -> BoxFuture<'a, Result<(), EmitError>>;
}

/// An emission as a [`RecordingEmitter`] received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    /// The emitting actor.
    pub from: Address,
    /// What it emitted.
    pub emission: Emission,
}

/// The embedded runtime's emitter: keeps every delivery, in order, for the program or
/// its tests to read ([`Embedded::emitted`](crate::Embedded::emitted)). A repeated
/// delivery is kept again, as a channel would receive it.
#[derive(Debug, Default)]
pub struct RecordingEmitter {
    received: Mutex<Vec<Emitted>>,
}

impl RecordingEmitter {
    /// An emitter that has received nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every delivery so far, in the order received.
    #[must_use]
    pub fn emitted(&self) -> Vec<Emitted> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Emitter for RecordingEmitter {
    fn emit<'a>(
        &'a self,
        from: &'a Address,
        emission: &'a Emission,
    ) -> BoxFuture<'a, Result<(), EmitError>> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Emitted {
                from: from.clone(),
                emission: emission.clone(),
            });
        Box::pin(async { Ok(()) })
    }
}

/// The emitter of a host that was given none: refuses every emission, so that each
/// becomes a dead letter saying how to configure one, instead of vanishing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEmitter;

impl Emitter for NoEmitter {
    fn emit<'a>(
        &'a self,
        _: &'a Address,
        emission: &'a Emission,
    ) -> BoxFuture<'a, Result<(), EmitError>> {
        let refused = EmitError::Refused {
            channel: emission.channel.clone(),
            reason: "this host has no emitter: give its ActorHost one with `with_emitter` (the embedded runtime records emissions; see docs/guide/events.md)".into(),
        };
        Box::pin(async move { Err(refused) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_say_which_rule_they_break() {
        for good in ["shipping", "order-events_2", &"x".repeat(MAX_CHANNEL_LEN)] {
            check_channel(good).unwrap();
        }
        for (bad, says) in [
            ("", "empty"),
            (&"x".repeat(MAX_CHANNEL_LEN + 1) as &str, "longer than 64"),
            ("arn:aws:sns:eu-west-1:1:t", "ASCII letters"),
        ] {
            let error = check_channel(bad).unwrap_err().to_string();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
