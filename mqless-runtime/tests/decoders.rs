//! Bad input never panics: the envelope decoder, the message decoder and the Lambda
//! payload parser, over arbitrary bytes and over mutations of valid encodings (random
//! bytes rarely get past the first byte; mutations reach deep into the decoders).
//! Every case must end in `Ok` or a typed error.
#![cfg(feature = "aws")]

use std::collections::BTreeMap;

use mqless_runtime::codec::{self, Limits};
use mqless_runtime::wire::Envelope;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// A message enum shaped like a generated one: named fields, nesting, options, maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Message {
    #[serde(rename = "deposit")]
    Deposit { amount: i64, note: Option<String> },
    #[serde(rename = "batch")]
    Batch {
        items: Vec<(String, u64)>,
        tags: BTreeMap<String, Vec<u8>>,
    },
    #[serde(rename = "nested")]
    Nested { inner: Vec<Vec<Option<i32>>> },
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (any::<i64>(), proptest::option::of("[a-z]{0,16}"))
            .prop_map(|(amount, note)| Message::Deposit { amount, note }),
        (
            proptest::collection::vec(("[a-z]{0,8}", any::<u64>()), 0..6),
            proptest::collection::btree_map(
                "[a-z]{0,6}",
                proptest::collection::vec(any::<u8>(), 0..8),
                0..4
            )
        )
            .prop_map(|(items, tags)| Message::Batch { items, tags }),
        proptest::collection::vec(
            proptest::collection::vec(proptest::option::of(any::<i32>()), 0..4),
            0..4
        )
        .prop_map(|inner| Message::Nested { inner }),
    ]
}

/// A valid encoding with some bytes overwritten, some cut off or some appended.
fn mutated(valid: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>, extra: &[u8]) -> Vec<u8> {
    let mut bytes = valid;
    for &(at, value) in edits {
        if !bytes.is_empty() {
            let at = at % bytes.len();
            bytes[at] = value;
        }
    }
    if let Some(cut) = cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    bytes.extend_from_slice(extra);
    bytes
}

const LIMITS: Limits = Limits::DEFAULT;

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn envelope_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Envelope::decode(&bytes, &LIMITS);
    }

    #[test]
    fn message_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = codec::decode::<Message>(&bytes, "message", LIMITS.max_message_bytes, LIMITS.max_depth);
    }

    #[test]
    fn lambda_payload_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = mqless_runtime::aws::payload::parse_invocation(&bytes);
    }

    #[test]
    fn mutated_messages_and_envelopes_decode_or_fail_cleanly(
        message in message(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in proptest::option::of(any::<usize>()),
        extra in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let body = codec::encode(&message, "message", usize::MAX).unwrap();
        // Unmutated, the round trip is exact.
        prop_assert_eq!(&codec::decode::<Message>(&body, "message", usize::MAX, 64).unwrap(), &message);
        let bad = mutated(body.clone(), &edits, cut, &extra);
        let _ = codec::decode::<Message>(&bad, "message", LIMITS.max_message_bytes, LIMITS.max_depth);
        let envelope = Envelope::new(body, true, Some("k".into())).encode(&LIMITS).unwrap();
        if let Ok(decoded) = Envelope::decode(&mutated(envelope, &edits, cut, &extra), &LIMITS) {
            let _ = codec::decode::<Message>(&decoded.body, "message", LIMITS.max_message_bytes, LIMITS.max_depth);
        }
    }

    #[test]
    fn mutated_lambda_payloads_parse_or_fail_cleanly(
        actor in "[a-z/\\x00-\\x1f]{0,40}",
        reply in proptest::option::of("[0-9A-Z]{20,30}"),
        hop in any::<u32>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
    ) {
        let payload = serde_json::to_vec(&serde_json::json!({"actor": actor, "reply_to": reply, "hop": hop})).unwrap();
        let _ = mqless_runtime::aws::payload::parse_invocation(&mutated(payload, &edits, None, &[]));
    }
}
