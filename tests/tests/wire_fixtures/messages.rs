//! Message bodies (as the generated enums encode them, and as other encoders may),
//! envelopes, replies, and states across the actor's evolution.

use super::*;

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
