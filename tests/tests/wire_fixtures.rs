//! Wire protocol v1 (docs/wire.md) against its golden fixtures in `fixtures/wire/v1`:
//! every fixture is what the Rust side encodes for a known value, byte for byte, and
//! decodes back to that value. An accidental wire change fails here; an intended one is a
//! new protocol version (docs/wire.md, "Versioning"). `MQLESS_BLESS=1` rewrites the files
//! from the values below, for a new fixture or a new version, never to make a test pass.

// `Kinds::every_kind` takes one argument of each kind, and so does its generated client.
#![allow(clippy::too_many_arguments)]

use std::path::PathBuf;

use mqless::aws::payload::{Invocation, InvocationResult, SendRequest, SweepResult};
use mqless::wire::{Envelope, ReplyRecord};
use mqless::{Limits, MessageId};
use mqless_examples::bank::{Account, AccountMessage, BankError};
use mqless_examples::counter::{Counter, CounterMessage};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/wire/v1")
        .join(name)
}

/// The bytes of fixture `name`, checked against `encoded` (written first under
/// `MQLESS_BLESS=1`).
fn golden(name: &str, encoded: &[u8]) -> Vec<u8> {
    let path = path(name);
    if std::env::var_os("MQLESS_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, encoded).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        hex(&bytes),
        hex(encoded),
        "fixture {name}: the Rust side no longer encodes it as the fixture says; a wire change is a new protocol version (docs/wire.md)"
    );
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A MessagePack fixture: `value` encodes to it, and it decodes to a value that encodes
/// to it again, byte for byte.
fn msgpack<T: Serialize + DeserializeOwned>(name: &str, value: &T) -> Vec<u8> {
    let bytes = golden(name, &encode(value));
    let decoded: T = rmp_serde::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("fixture {name} does not decode: {e}"));
    assert_eq!(
        hex(&encode(&decoded)),
        hex(&bytes),
        "fixture {name} does not round-trip"
    );
    bytes
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).unwrap()
}

/// Whether `bytes` decode as a `T` that encodes as `expected`.
fn decodes_as<T: Serialize + DeserializeOwned>(bytes: &[u8], expected: &T) -> bool {
    rmp_serde::from_slice::<T>(bytes).is_ok_and(|value| encode(&value) == encode(expected))
}

/// A JSON fixture (compact, as serde_json writes it): `value` serializes to it, and it
/// parses back to `value`.
fn json<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, value: &T) {
    let text = serde_json::to_string_pretty(value).unwrap() + "\n";
    let bytes = golden(name, text.as_bytes());
    let decoded: T = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(&decoded, value, "fixture {name} parses to another value");
}

/// Message ids: 128 bits, 48 of milliseconds since the Unix epoch then 80 of sequence,
/// written as 26 upper-case Crockford base-32 characters that sort as the numbers do.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct IdFixture {
    text: String,
    hex: String,
    timestamp_millis: u64,
}

#[test]
fn message_ids() {
    let values: [u128; 4] = [
        0,
        (1_800_000_000_000u128 << 80) | 1,
        (1_800_000_000_000u128 << 80) | 2,
        (1_800_000_000_001u128 << 80) | 0x7f_ffff_ffff_ffff_ffff,
    ];
    let fixtures: Vec<IdFixture> = values
        .iter()
        .map(|&v| {
            let id = MessageId::from_u128(v);
            IdFixture {
                text: id.to_string(),
                hex: format!("{v:032x}"),
                timestamp_millis: id.timestamp_millis(),
            }
        })
        .collect();
    json("ids.json", &fixtures);
    for (fixture, &value) in fixtures.iter().zip(&values) {
        assert_eq!(MessageId::parse(&fixture.text).unwrap().as_u128(), value);
        // Lower case parses to the same id, but is not canonical: a mailbox item with it
        // would sort apart from its time and is refused by the drain (docs/wire.md).
        let lower = MessageId::parse(&fixture.text.to_lowercase()).unwrap();
        assert_eq!(lower.as_u128(), value);
    }
    let texts: Vec<&str> = fixtures.iter().map(|f| f.text.as_str()).collect();
    let mut sorted = texts.clone();
    sorted.sort_unstable();
    assert_eq!(texts, sorted, "ids sort as text in numeric order");
    // Inside MessagePack documents (bookkeeping, replies) an id is 16 big-endian bytes.
    msgpack("id.msgpack", &MessageId::from_u128(values[1]));
}

/// A stand-in actor whose one method takes every kind of argument, to pin how each
/// encodes in a message body.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Kinds;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    Circle { radius: u32 },
    Square(u32),
    Dot,
}

#[mqless::actor]
impl Kinds {
    pub fn every_kind(
        &mut self,
        small: u8,
        big: u64,
        negative: i64,
        ratio: f64,
        flag: bool,
        text: String,
        present: Option<String>,
        absent: Option<String>,
        circle: Shape,
        square: Shape,
        dot: Shape,
        raw: Vec<u8>,
        tags: Vec<String>,
    ) {
        let _ = (small, big, negative, ratio, flag, text, present, absent);
        let _ = (circle, square, dot, raw, tags);
    }

    pub fn no_arguments(&mut self) {}

    #[handler(name = "renamed")]
    pub fn original_name(&mut self, x: i32) {
        let _ = x;
    }
}

#[test]
fn message_bodies() {
    msgpack(
        "body-counter-increment.msgpack",
        &CounterMessage::Increment { by: 5 },
    );
    msgpack("body-counter-get.msgpack", &CounterMessage::Get {});
    msgpack(
        "body-account-transfer.msgpack",
        &AccountMessage::Transfer {
            to: "bob".into(),
            amount: 30,
        },
    );
    msgpack(
        "body-every-kind.msgpack",
        &KindsMessage::EveryKind {
            small: 7,
            big: u64::MAX,
            negative: -300,
            ratio: 0.5,
            flag: true,
            text: "héllo".into(),
            present: Some("here".into()),
            absent: None,
            circle: Shape::Circle { radius: 2 },
            square: Shape::Square(3),
            dot: Shape::Dot,
            raw: vec![1, 2, 255],
            tags: vec!["a".into(), "b".into()],
        },
    );
    msgpack("body-no-arguments.msgpack", &KindsMessage::NoArguments {});
    msgpack(
        "body-renamed.msgpack",
        &KindsMessage::OriginalName { x: -1 },
    );
}

/// What a decoder accepts besides what the Rust side writes: a client in another
/// language may write these, and they must mean the same.
#[test]
fn message_bodies_other_encoders_may_write() {
    // A body written by a generic MessagePack map encoder means the same. (A missing
    // `Option` argument reads as `None`: `old_bodies_read_after_an_option_argument_is_added`.)
    let mut arguments = std::collections::BTreeMap::new();
    arguments.insert("x", -1i32);
    let renamed =
        rmp_serde::to_vec_named(&std::collections::BTreeMap::from([("renamed", arguments)]))
            .unwrap();
    assert!(decodes_as(&renamed, &KindsMessage::OriginalName { x: -1 }));
    // `Vec<u8>` also reads from MessagePack `bin` (what msgpack libraries write for bytes).
    let bytes = std::fs::read(path("body-every-kind.msgpack")).unwrap();
    let as_array = [0x93, 0x01, 0x02, 0xcc, 0xff];
    let as_bin = [0xc4, 0x03, 0x01, 0x02, 0xff];
    let position = bytes
        .windows(as_array.len())
        .position(|w| w == as_array)
        .expect("raw as an array");
    let mut with_bin = bytes.clone();
    with_bin.splice(position..position + as_array.len(), as_bin);
    let every_kind: KindsMessage = rmp_serde::from_slice(&bytes).unwrap();
    assert!(decodes_as(&with_bin, &every_kind));
    // Unknown methods and wrong argument types are refused, with what was expected.
    let unknown = rmp_serde::to_vec_named(&std::collections::BTreeMap::from([(
        "incremnt",
        std::collections::BTreeMap::from([("by", 1)]),
    )]))
    .unwrap();
    let error = rmp_serde::from_slice::<CounterMessage>(&unknown)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("incremnt") && error.contains("increment"),
        "{error}"
    );
}

#[test]
fn envelopes() {
    let body = rmp_serde::to_vec_named(&CounterMessage::Increment { by: 5 }).unwrap();
    let limits = Limits::DEFAULT;
    for (name, envelope) in [
        (
            "envelope-tell.msgpack",
            Envelope::new(body.clone(), false, None),
        ),
        (
            "envelope-ask-with-key.msgpack",
            Envelope::new(body.clone(), true, Some("order-1".into())),
        ),
        (
            "envelope-reminder.msgpack",
            mqless::wire::Envelope {
                reminder: Some(mqless::wire::ReminderSpec {
                    period: 10_000,
                    until: None,
                    missed: mqless::schedule::Missed::CatchUp { max: 3 },
                    registration: MessageId::from_u128((1_800_000_000_000u128 << 80) | 1),
                    caught_up: 1,
                    chained: false,
                }),
                ..Envelope::new(body.clone(), false, None)
                    .scheduled(1_800_000_010_000, Some("beat".into()))
            },
        ),
        (
            "envelope-scheduled.msgpack",
            Envelope::new(body, false, None).scheduled(1_800_000_060_000, Some("reminder".into())),
        ),
    ] {
        let bytes = golden(name, &envelope.encode(&limits).unwrap());
        assert_eq!(Envelope::decode(&bytes, &limits).unwrap(), envelope);
    }
}

/// An ask between actors (`reply_to`) and its reply: the route carries the asker's reply
/// message with a placeholder `Reply` at `slot`; the reply is that message with the
/// outcome's bytes in the placeholder's place, and `answers` names the ask.
#[test]
fn reply_to_envelopes() {
    use mqless::reply::Reply;

    #[derive(Serialize)]
    enum GroupMessage {
        #[serde(rename = "reading")]
        Reading {
            counter: String,
            reading: Reply<i64>,
        },
    }
    let limits = Limits::DEFAULT;
    let placeholder = Reply::DeadLettered("\0slot".into());
    let template = rmp_serde::to_vec_named(&GroupMessage::Reading {
        counter: "c1".into(),
        reading: placeholder.clone(),
    })
    .unwrap();
    let slot_bytes = rmp_serde::to_vec_named(&placeholder).unwrap();
    let slot = template
        .windows(slot_bytes.len())
        .position(|w| w == slot_bytes)
        .unwrap();
    let ask = MessageId::from_u128((1_800_000_030_000u128 << 80) | 7);
    let question = Envelope {
        from: Some("Watcher/w1".into()),
        reply_to: Some(mqless::wire::ReplyTo {
            to: "Watcher/w1".into(),
            body: template.clone(),
            slot: u32::try_from(slot).unwrap(),
            len: u32::try_from(slot_bytes.len()).unwrap(),
            ask,
        }),
        ..Envelope::new(
            rmp_serde::to_vec_named(&CounterMessage::Get {}).unwrap(),
            false,
            None,
        )
    };
    let outcome = rmp_serde::to_vec_named(&Reply::<i64>::Ok(5)).unwrap();
    let spliced = [
        &template[..slot],
        &outcome[..],
        &template[slot + slot_bytes.len()..],
    ]
    .concat();
    let expected = rmp_serde::to_vec_named(&GroupMessage::Reading {
        counter: "c1".into(),
        reading: Reply::Ok(5),
    })
    .unwrap();
    assert_eq!(
        spliced, expected,
        "the outcome replaces the placeholder in place"
    );
    let reply = Envelope {
        from: Some("Counter/c1".into()),
        answers: Some(ask),
        ..Envelope::new(spliced, false, None)
    };
    for (name, envelope) in [
        ("envelope-reply-to.msgpack", question),
        ("envelope-reply.msgpack", reply),
    ] {
        let bytes = golden(name, &envelope.encode(&limits).unwrap());
        assert_eq!(Envelope::decode(&bytes, &limits).unwrap(), envelope);
    }
}

/// A mailbox item as a client writing the table directly puts it (DynamoDB JSON, as the
/// AWS CLI and SDKs show items): the envelope of `envelope-tell.msgpack` under a
/// canonical id, in each key layout (the partition key as the DynamoDB store computes
/// it). The Python tests write items of this shape and check that they run.
#[test]
fn mailbox_items() {
    use base64::Engine;
    use mqless::aws::KeyLayout;
    let envelope = Envelope::new(
        rmp_serde::to_vec_named(&CounterMessage::Increment { by: 5 }).unwrap(),
        false,
        None,
    )
    .encode(&Limits::DEFAULT)
    .unwrap();
    let id = MessageId::from_u128((1_800_000_000_000u128 << 80) | 1);
    let address = mqless::id::Address::parse("Counter/c1").unwrap();
    for (layout, name) in [
        (KeyLayout::V1, "item-mailbox.json"),
        (KeyLayout::V2, "item-mailbox-key-layout-v2.json"),
    ] {
        let item = serde_json::json!({
            "pk": {"S": layout.mailbox_partition(&address)},
            "sk": {"S": format!("m#{id}")},
            "env": {"B": base64::engine::general_purpose::STANDARD.encode(&envelope)},
        });
        json(name, &item);
    }
    if std::env::var_os("MQLESS_BLESS").is_none() {
        assert_eq!(
            envelope,
            std::fs::read(path("envelope-tell.msgpack")).unwrap()
        );
    }
}

#[test]
fn replies() {
    let five = rmp_serde::to_vec_named(&5i64).unwrap();
    let refused = rmp_serde::to_vec_named(&BankError::InsufficientFunds {
        balance: 10,
        requested: 25,
    })
    .unwrap();
    msgpack("reply-ok.msgpack", &ReplyRecord::Ok(five));
    msgpack("reply-err.msgpack", &ReplyRecord::Err(refused));
    msgpack(
        "reply-dead-lettered.msgpack",
        &ReplyRecord::DeadLettered("panicked: boom".into()),
    );
    msgpack("reply-duplicate.msgpack", &ReplyRecord::Duplicate);
}

/// Committed states (`st` of `#state`), and how they may evolve: a newer version that
/// adds a field with a default reads them; one that renames a field does not.
#[test]
fn states_and_their_evolution() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct CounterV1 {
        value: i64,
    }
    let bytes = msgpack("state-counter.msgpack", &CounterV1 { value: 42 });
    let counter: Counter = rmp_serde::from_slice(&bytes).unwrap();
    let _ = counter;
    #[derive(Debug, PartialEq, Deserialize)]
    struct CounterWithLabel {
        value: i64,
        #[serde(default)]
        label: Option<String>,
    }
    assert_eq!(
        rmp_serde::from_slice::<CounterWithLabel>(&bytes).unwrap(),
        CounterWithLabel {
            value: 42,
            label: None
        },
        "adding a defaulted field is compatible"
    );
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct CounterRenamed {
        count: i64,
    }
    assert!(
        rmp_serde::from_slice::<CounterRenamed>(&bytes).is_err(),
        "renaming a field is not (the actor would be quarantined)"
    );
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct AccountV1 {
        balance: i64,
        lowest: i64,
        operations: u64,
    }
    let bytes = msgpack(
        "state-account.msgpack",
        &AccountV1 {
            balance: 70,
            lowest: 0,
            operations: 2,
        },
    );
    let _: Account = rmp_serde::from_slice(&bytes).unwrap();
}

/// Adding an `Option` argument to a method keeps old bodies readable (it reads `None`).
mod counter_v2 {
    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    pub struct Counter {
        value: i64,
    }

    #[mqless::actor]
    impl Counter {
        pub fn increment(&mut self, by: i64, note: Option<String>) -> i64 {
            let _ = note;
            self.value += by;
            self.value
        }
    }
}

#[test]
fn old_bodies_read_after_an_option_argument_is_added() {
    let bytes = std::fs::read(path("body-counter-increment.msgpack")).unwrap();
    assert!(decodes_as(
        &bytes,
        &counter_v2::CounterMessage::Increment { by: 5, note: None }
    ));
}

#[test]
fn invocations_and_answers() {
    let body = rmp_serde::to_vec_named(&CounterMessage::Increment { by: 5 }).unwrap();
    let body = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(body)
    };
    let id = MessageId::from_u128((1_800_000_000_000u128 << 80) | 1).to_string();
    let next = MessageId::from_u128((1_800_000_000_000u128 << 80) | 2).to_string();
    json(
        "invocation-drain.json",
        &Invocation {
            actor: "c1".into(),
            actor_type: Some("Counter".into()),
            reply_to: None,
            hop: 0,
            send: None,
        },
    );
    json(
        "invocation-ask.json",
        &Invocation {
            actor: "c1".into(),
            actor_type: Some("Counter".into()),
            reply_to: Some(id.clone()),
            hop: 0,
            send: None,
        },
    );
    json(
        "invocation-send.json",
        &Invocation {
            actor: "c1".into(),
            actor_type: Some("Counter".into()),
            reply_to: None,
            hop: 0,
            send: Some(SendRequest {
                body,
                ask: true,
                key: Some("order-1".into()),
                after: Some(id.clone()),
                at: None,
                name: None,
                trace: None,
            }),
        },
    );
    answers(next);
}

/// The answers of an invocation (a drain's, a quarantine's) and of a sweep.
fn answers(next: String) {
    json(
        "answer-send-ask.json",
        &InvocationResult {
            end: "Empty".into(),
            processed: 1,
            dead_lettered: 0,
            quarantine: None,
            reply: Some("gaJPa8QBBQ==".into()),
            dynamodb_requests: 7,
            write_units: 6.0,
            read_units: 1.0,
            id: Some(next),
        },
    );
    json(
        "answer-quarantined.json",
        &InvocationResult {
            end: "Quarantined".into(),
            processed: 0,
            dead_lettered: 0,
            quarantine: Some(
                "the committed state does not decode as this version of `Counter` (...)".into(),
            ),
            reply: None,
            dynamodb_requests: 2,
            write_units: 2.0,
            read_units: 0.0,
            id: None,
        },
    );
    json(
        "answer-sweep.json",
        &SweepResult {
            pending: 3,
            nudged: 3,
            failed: Vec::new(),
            quarantined: vec!["Counter/broken".into()],
            entries: 5,
            complete: true,
        },
    );
    // The reply in the answer above is `reply-ok.msgpack`, base64.
    let reply = encode(&ReplyRecord::Ok(encode(&5i64)));
    assert_eq!(hex(&reply), "81a24f6bc40105");
}

/// docs/wire.md quotes every fixture, with its exact bytes (hex for MessagePack, the
/// text for JSON), so the specification cannot drift from the wire.
#[test]
fn the_specification_quotes_every_fixture_as_it_is() {
    let doc =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/wire.md"))
            .unwrap();
    let squeezed: String = doc.chars().filter(|c| !c.is_whitespace()).collect();
    let mut names: Vec<_> = std::fs::read_dir(path(""))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    for name in names {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/wire.md does not name fixture {name}"
        );
        let bytes = std::fs::read(path(&name)).unwrap();
        let quoted = if name.ends_with(".json") {
            String::from_utf8(bytes)
                .unwrap()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect()
        } else {
            hex(&bytes)
        };
        assert!(
            squeezed.contains(&quoted),
            "docs/wire.md does not quote {name} as it is: {quoted}"
        );
    }
}
