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

mod invocations;
mod messages;

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
