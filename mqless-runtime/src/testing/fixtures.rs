//! Fixtures of what deployed versions wrote, checked by a test before the next deploy: a
//! state a new version cannot decode quarantines every actor holding it, and a queued
//! message it cannot decode is dead-lettered. See docs/guide/evolving.md.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::actor::Actor;
use crate::codec::{self, Limits};

const STATE_DIR: &str = "state";
const MESSAGE_DIR: &str = "messages";
const EXTENSION: &str = "msgpack";

/// Encoded states and messages of actor type `A` kept as files (MessagePack, exactly as
/// the store holds them), written once and then only read: each later run of the test
/// decodes every fixture in the folder with the current code.
///
/// ```no_run
/// # fn check<A: mqless_runtime::Actor>(counter: A, increment: A::Message) {
/// use mqless_runtime::testing::Fixtures;
///
/// // In a test: the first run writes `tests/fixtures/Counter/state/v1.msgpack` and
/// // `.../messages/v1-increment.msgpack` (commit them); every run decodes all fixtures.
/// Fixtures::<A>::new("tests/fixtures")
///     .state("v1", &counter)
///     .message("v1-increment", &increment)
///     .check()
///     .unwrap();
/// # }
/// ```
///
/// A fixture is never overwritten: it stands for what a deployed version wrote, which
/// stays in the table whatever the code says now. Record a new fixture under a new name
/// when a version changes the state or a message.
pub struct Fixtures<A> {
    dir: PathBuf,
    problems: Vec<String>,
    actor: PhantomData<fn() -> A>,
}

impl<A> fmt::Debug for Fixtures<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fixtures")
            .field("dir", &self.dir)
            .field("problems", &self.problems)
            .finish()
    }
}

/// What [`Fixtures::check`] found: every fixture that no longer decodes, and every one
/// that could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureError {
    /// One line per problem, naming the file.
    pub problems: Vec<String>,
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} fixture(s) of earlier versions do not decode with this code:",
            self.problems.len()
        )?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        write!(
            f,
            "Deployed as it is, actors holding such a state would be quarantined and such queued messages dead-lettered. \
             Keep the change compatible (see docs/guide/evolving.md: `#[serde(default)]`, `alias`, \
             a versioned `#[serde(from = ..)]`), then run the test again."
        )
    }
}

impl std::error::Error for FixtureError {}

impl<A: Actor> Fixtures<A> {
    /// The fixtures of `A` under `dir` (in `dir/<TYPE_NAME>/`).
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().join(A::TYPE_NAME),
            problems: Vec::new(),
            actor: PhantomData,
        }
    }

    /// Records `state` as fixture `name` if there is none by that name yet.
    #[must_use]
    pub fn state(self, name: &str, state: &A) -> Self {
        self.record(
            STATE_DIR,
            name,
            codec::encode(state, "actor state", usize::MAX),
        )
    }

    /// Records `message` (a value of the generated `{Actor}Message`) as fixture `name` if
    /// there is none by that name yet.
    #[must_use]
    pub fn message(self, name: &str, message: &A::Message) -> Self {
        self.record(
            MESSAGE_DIR,
            name,
            codec::encode(message, "message", usize::MAX),
        )
    }

    /// Decodes every state fixture as `A` and every message fixture as `A::Message`, with
    /// the limits the runtime applies. Returns how many were checked.
    ///
    /// # Errors
    /// A [`FixtureError`] listing each fixture that does not decode (or could not be
    /// written or read), with the decoder's message.
    pub fn check(mut self) -> Result<usize, FixtureError> {
        let limits = Limits::DEFAULT;
        let mut checked = 0;
        for (kind, decode) in [
            (
                STATE_DIR,
                decode_state::<A> as fn(&[u8], &Limits) -> Result<(), String>,
            ),
            (MESSAGE_DIR, decode_message::<A>),
        ] {
            for path in self.files(kind) {
                checked += 1;
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        if let Err(error) = decode(&bytes, &limits) {
                            self.problems.push(format!(
                                "{}: no longer decodes as `{}`'s {}: {error}",
                                path.display(),
                                A::TYPE_NAME,
                                if kind == STATE_DIR {
                                    "state"
                                } else {
                                    "message"
                                },
                            ));
                        }
                    }
                    Err(error) => self
                        .problems
                        .push(format!("{}: cannot be read: {error}", path.display())),
                }
            }
        }
        if self.problems.is_empty() {
            Ok(checked)
        } else {
            Err(FixtureError {
                problems: self.problems,
            })
        }
    }

    fn record(
        mut self,
        kind: &str,
        name: &str,
        bytes: Result<Vec<u8>, crate::error::CodecError>,
    ) -> Self {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            self.problems.push(format!(
                "fixture name {name:?}: use letters, digits, `-` and `_`"
            ));
            return self;
        }
        let path = self.dir.join(kind).join(format!("{name}.{EXTENSION}"));
        if path.exists() {
            return self;
        }
        let written = bytes.map_err(|e| e.to_string()).and_then(|bytes| {
            std::fs::create_dir_all(path.parent().unwrap_or(&self.dir))
                .and_then(|()| std::fs::write(&path, bytes))
                .map_err(|e| e.to_string())
        });
        if let Err(error) = written {
            self.problems
                .push(format!("{}: cannot be written: {error}", path.display()));
        }
        self
    }

    /// The fixture files of `kind`, in name order.
    fn files(&self, kind: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join(kind))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|e| e == EXTENSION))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }
}

fn decode_state<A: Actor>(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    codec::decode::<A>(bytes, "actor state", usize::MAX, limits.max_depth)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn decode_message<A: Actor>(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    codec::decode::<A::Message>(bytes, "message", limits.max_message_bytes, limits.max_depth)
        .map(drop)
        .map_err(|e| e.to_string())
}
