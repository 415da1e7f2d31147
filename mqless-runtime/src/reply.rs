//! Request-reply between actors without blocking: a handler sends a request with
//! [`Request::reply_to`](crate::actor::client::Request::reply_to), naming one of its own methods
//! that takes a [`Reply`]; the callee's outcome comes back later as a message to that
//! method, or [`Reply::TimedOut`] when it does not come in time.
//!
//! How: the reply method's request is encoded with a unique placeholder `Reply` (the
//! *slot*) and travels, as a template, in the callee message's envelope. When the callee
//! consumes the message, its commit splices the outcome's MessagePack into the slot and
//! sends the result, atomically with its own state change. MessagePack prefixes maps and
//! arrays with their element count, not their byte length, so one value can replace
//! another without re-encoding what surrounds it. The asker's commit also schedules the
//! same template with [`Reply::TimedOut`] in the slot; the asker's state record keeps the
//! ask open until the first of the two is handled, and drops the other.

use serde::{Deserialize, Serialize};

use crate::codec::{self, Limits};
use crate::error::Error;
use crate::id::MessageId;
use crate::wire::ReplyRecord;

/// The outcome of an ask made with `reply_to`, as the reply method receives it. `T` and
/// `E` are the asked method's return value and error (`E` is [`Never`](crate::error::Never)
/// for a method that cannot fail: a `match` on the value may leave its arm out).
///
/// ```
/// use mqless_runtime::reply::Reply;
///
/// fn describe(reading: Reply<f64, String>) -> String {
///     match reading {
///         Reply::Ok(celsius) => format!("{celsius} °C"),
///         Reply::Err(error) => format!("the device refused: {error}"),
///         Reply::TimedOut => "no answer in time".into(),
///         Reply::DeadLettered(reason) => format!("the device failed: {reason}"),
///         Reply::Duplicate => "asked twice with one idempotency key".into(),
///     }
/// }
/// assert_eq!(describe(Reply::Ok(21.5)), "21.5 °C");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply<T, E = crate::error::Never> {
    /// The method returned this value.
    Ok(T),
    /// The method returned this error; the callee's state is unchanged.
    Err(E),
    /// No reply came within the request's timeout (`Request::timeout`, default 30 s). A
    /// reply arriving later is dropped.
    TimedOut,
    /// The callee could not process the message (it was dead-lettered), for this reason.
    DeadLettered(String),
    /// The request carried an idempotency key the callee had consumed: it was not run.
    Duplicate,
}

/// Where the outcome goes in a reply method's encoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    /// The encoded reply-method message, with the placeholder at `slot`.
    pub(crate) body: Vec<u8>,
    /// Byte offset and length of the placeholder in `body`.
    pub(crate) slot: (usize, usize),
}

/// The placeholder a reply method's request is built with: a `Reply` no callee sends
/// (its reason carries a random nonce), found again by its bytes.
pub(crate) fn placeholder<T, E>() -> Result<(Reply<T, E>, Vec<u8>), Error> {
    let reason = format!("\0mqless reply slot {}", MessageId::scheduled(0));
    let bytes = codec::encode(
        &Reply::<(), ()>::DeadLettered(reason.clone()),
        "reply slot",
        usize::MAX,
    )?;
    Ok((Reply::DeadLettered(reason), bytes))
}

/// The template of `body`, built around `placeholder`.
///
/// # Errors
/// [`Error::InvalidReplyTo`] unless `body` carries the placeholder exactly once.
pub(crate) fn template(body: Vec<u8>, placeholder: &[u8]) -> Result<Template, Error> {
    let mut found = body
        .windows(placeholder.len())
        .enumerate()
        .filter(|(_, window)| *window == placeholder)
        .map(|(at, _)| at);
    match (found.next(), found.next()) {
        (Some(at), None) => Ok(Template {
            slot: (at, placeholder.len()),
            body,
        }),
        _ => Err(Error::InvalidReplyTo(
            "the reply request must pass on the `Reply` it is given, once: `.reply_to(|reply| me.on_reply(reply))`",
        )),
    }
}

/// The MessagePack of `Reply::<T, E>` for a callee's outcome, from the outcome's bytes.
pub(crate) fn encode_outcome(outcome: &ReplyRecord) -> Result<Vec<u8>, Error> {
    // Externally tagged, as serde derives it and rmp-serde writes it: a one-entry map
    // from the variant's name to its value.
    // fixmap of one entry, fixstr of 2 or 3 bytes
    const OK: &[u8] = &[0x81, 0xa2, b'O', b'k'];
    const ERR: &[u8] = &[0x81, 0xa3, b'E', b'r', b'r'];
    Ok(match outcome {
        ReplyRecord::Ok(value) => [OK, value].concat(),
        ReplyRecord::Err(error) => [ERR, error].concat(),
        ReplyRecord::DeadLettered(reason) => codec::encode(
            &Reply::<(), ()>::DeadLettered(reason.clone()),
            "reply",
            usize::MAX,
        )?,
        ReplyRecord::Duplicate => codec::encode(&Reply::<(), ()>::Duplicate, "reply", usize::MAX)?,
    })
}

/// The MessagePack of `Reply::TimedOut`.
pub(crate) fn timed_out() -> Result<Vec<u8>, Error> {
    Ok(codec::encode(
        &Reply::<(), ()>::TimedOut,
        "reply",
        usize::MAX,
    )?)
}

/// `body` with `outcome` in place of the slot at `slot`; when the result breaks the
/// message size limit, a [`Reply::DeadLettered`] saying so instead, so the asker always
/// hears back.
pub(crate) fn fill(
    body: &[u8],
    slot: (usize, usize),
    outcome: &[u8],
    limits: &Limits,
) -> Result<Vec<u8>, Error> {
    let splice = |outcome: &[u8]| -> Result<Vec<u8>, Error> {
        let (at, len) = slot;
        let (Some(before), Some(after)) = (body.get(..at), body.get(at + len..)) else {
            return Err(Error::InvalidReplyTo(
                "the reply slot lies outside the reply template",
            ));
        };
        Ok([before, outcome, after].concat())
    };
    let filled = splice(outcome)?;
    if filled.len() <= limits.max_message_bytes {
        return Ok(filled);
    }
    let too_large = ReplyRecord::DeadLettered(format!(
        "the reply of {} bytes exceeds the {}-byte message limit",
        filled.len(),
        limits.max_message_bytes
    ));
    splice(&encode_outcome(&too_large)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum AskerMessage {
        Reading {
            device: String,
            reading: Reply<Vec<u32>, String>,
        },
    }

    fn template_of(device: &str) -> Template {
        let (slot, bytes) = placeholder().unwrap();
        let message = AskerMessage::Reading {
            device: device.into(),
            reading: slot,
        };
        template(codec::encode(&message, "m", usize::MAX).unwrap(), &bytes).unwrap()
    }

    fn decode(bytes: &[u8]) -> AskerMessage {
        codec::decode(bytes, "m", usize::MAX, 16).unwrap()
    }

    #[test]
    fn every_outcome_decodes_as_the_reply_method_expects() {
        let template = template_of("d-1");
        let ok = codec::encode(&vec![1_u32, 2, 3], "v", usize::MAX).unwrap();
        let err = codec::encode("too hot", "e", usize::MAX).unwrap();
        let cases = [
            (ReplyRecord::Ok(ok), Reply::Ok(vec![1, 2, 3])),
            (ReplyRecord::Err(err), Reply::Err("too hot".into())),
            (
                ReplyRecord::DeadLettered("panicked".into()),
                Reply::DeadLettered("panicked".into()),
            ),
            (ReplyRecord::Duplicate, Reply::Duplicate),
        ];
        for (record, expected) in cases {
            let outcome = encode_outcome(&record).unwrap();
            let body = fill(&template.body, template.slot, &outcome, &Limits::DEFAULT).unwrap();
            let AskerMessage::Reading { device, reading } = decode(&body);
            assert_eq!((device.as_str(), reading), ("d-1", expected));
        }
        let body = fill(
            &template.body,
            template.slot,
            &timed_out().unwrap(),
            &Limits::DEFAULT,
        )
        .unwrap();
        let AskerMessage::Reading { reading, .. } = decode(&body);
        assert_eq!(reading, Reply::TimedOut);
    }

    #[test]
    fn spliced_bytes_equal_what_serde_encodes() {
        let value = codec::encode(&7_u8, "v", usize::MAX).unwrap();
        let spliced = encode_outcome(&ReplyRecord::Ok(value)).unwrap();
        let encoded = codec::encode(&Reply::<u8, ()>::Ok(7), "r", usize::MAX).unwrap();
        assert_eq!(spliced, encoded);
    }

    #[test]
    fn a_reply_over_the_message_limit_becomes_a_dead_letter_notice() {
        let template = template_of("d-1");
        let big = codec::encode(&vec![7_u32; 2000], "v", usize::MAX).unwrap();
        let limits = Limits {
            max_message_bytes: 1024,
            ..Limits::DEFAULT
        };
        let outcome = encode_outcome(&ReplyRecord::Ok(big)).unwrap();
        let body = fill(&template.body, template.slot, &outcome, &limits).unwrap();
        let AskerMessage::Reading { reading, .. } = decode(&body);
        assert!(
            matches!(&reading, Reply::DeadLettered(reason) if reason.contains("1024-byte")),
            "{reading:?}"
        );
    }

    #[test]
    fn a_request_without_the_slot_or_with_it_twice_is_refused() {
        let (slot, bytes) = placeholder::<u8, ()>().unwrap();
        let none = codec::encode(&1_u8, "m", usize::MAX).unwrap();
        assert!(matches!(
            template(none, &bytes),
            Err(Error::InvalidReplyTo(_))
        ));
        let twice = codec::encode(&(slot.clone(), slot), "m", usize::MAX).unwrap();
        assert!(matches!(
            template(twice, &bytes),
            Err(Error::InvalidReplyTo(_))
        ));
    }
}
