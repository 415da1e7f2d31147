//! Messages that could not be processed: what a batch records of them, and the dead
//! letters cleanup moves them to.

use crate::id::MessageId;

/// A message that could not be processed, as recorded by the batch that gave up on it.
/// Cleanup moves the message from the mailbox to the dead letters with this note.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    /// The message.
    pub id: MessageId,
    /// The last error.
    pub error: String,
    /// How many times it was tried.
    pub attempts: u32,
    /// Why it is a dead letter.
    #[serde(default)]
    pub kind: DeadLetterKind,
}

/// Why a message is a dead letter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeadLetterKind {
    /// It could not be processed: it panicked `max_attempts` times, did not decode, broke
    /// a limit, could not commit, or killed its process. Nothing of it was applied.
    #[default]
    Failed,
    /// A tell whose method returned `Err`: it ran, and the state was left unchanged.
    /// Kept because nobody else hears of a tell's error; redrive runs it again.
    Rejected,
    /// An item in the mailbox that MQLess did not write and cannot read (a sort key that
    /// is not a message id, an envelope that is not binary), moved out of the mailbox
    /// so its actor is not woken for it forever. On DynamoDB the dead letter keeps the
    /// item's other attributes in `raw`.
    Malformed,
    /// An emission its channel refused for good (no such target, no permission, too
    /// large): the letter's envelope carries the emission (`Envelope::emission`), and
    /// its error names the channel and the reason. Redrive emits it again, under the
    /// same id.
    Undeliverable,
}

impl DeadLetterKind {
    /// The kind's stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Malformed => "malformed",
            Self::Undeliverable => "undeliverable",
        }
    }

    /// The kind stored as `name`; unknown names read as `Failed`.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        match name {
            "rejected" => Self::Rejected,
            "malformed" => Self::Malformed,
            "undeliverable" => Self::Undeliverable,
            _ => Self::Failed,
        }
    }
}

/// A dead letter: a message moved out of the mailbox after it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message id.
    pub id: MessageId,
    /// The message's encoded envelope, as it was queued.
    pub envelope: Vec<u8>,
    /// The last error.
    pub error: String,
    /// How many times it was tried.
    pub attempts: u32,
    /// When it was moved, in milliseconds since the Unix epoch.
    pub dead_at: u64,
    /// Why.
    pub kind: DeadLetterKind,
}
