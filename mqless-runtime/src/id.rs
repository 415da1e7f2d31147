//! Names and addresses: actor types, actor ids, and time-ordered message ids.

use std::fmt;
use std::sync::Mutex;

/// A name or id that failed validation. Converts into [`crate::Error`] (its variants of
/// the same names), so `?` works in functions returning either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// An actor id failed validation.
    #[error("invalid actor id {id:?}: {reason}; use 1 to 512 bytes of UTF-8 without control characters or `/`")]
    InvalidActorId {
        /// The rejected id.
        id: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// An actor type name failed validation.
    #[error(
        "invalid actor type name {name:?}: {reason}; use 1 to 64 ASCII letters, digits, `-` or `_`"
    )]
    InvalidActorType {
        /// The rejected name.
        name: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// A message id's text form failed to parse.
    #[error("invalid message id {text:?}: expected 26 Crockford base-32 characters")]
    InvalidMessageId {
        /// The rejected text (at most 64 characters of it).
        text: String,
    },
}

/// Longest accepted actor type name, in bytes. Matches AWS Lambda's function-name limit,
/// so a type name can be used as a function name as is.
pub const MAX_ACTOR_TYPE_LEN: usize = 64;
/// How far ahead of the local clock an id may be and still order the next ids (10
/// minutes: far beyond real clock skew, far below a corrupt timestamp).
pub const MAX_FUTURE_SKEW_MILLIS: u64 = 10 * 60 * 1000;
/// Longest accepted actor id, in bytes. Keeps the DynamoDB partition key (type + `/` + id)
/// far below its 2048-byte limit.
pub const MAX_ACTOR_ID_LEN: usize = 512;

/// The name of an actor type: 1 to 64 ASCII letters, digits, `-` or `_`.
///
/// ```
/// use mqless_runtime::id::ActorType;
/// assert!(ActorType::new("Counter").is_ok());
/// assert!(ActorType::new("bad/name").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorType(String);

impl ActorType {
    /// Validates `name` as an actor type name.
    ///
    /// # Errors
    /// [`IdError::InvalidActorType`] when the name is empty, longer than
    /// [`MAX_ACTOR_TYPE_LEN`] or has a character other than ASCII letters, digits, `-`, `_`.
    pub fn new(name: impl Into<String>) -> Result<Self, IdError> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > MAX_ACTOR_TYPE_LEN {
            Some("it is longer than 64 bytes")
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Some("it may only hold ASCII letters, digits, `-` and `_`")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(IdError::InvalidActorType { name, reason }),
            None => Ok(Self(name)),
        }
    }

    /// The name as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of one actor within its type: 1 to 512 bytes of UTF-8 without control
/// characters and without `/` (the key delimiter).
///
/// ```
/// use mqless_runtime::id::ActorId;
/// assert!(ActorId::new("alice").is_ok());
/// assert!(ActorId::new("").is_err());
/// assert!(ActorId::new("a/b").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId(String);

impl ActorId {
    /// Validates `id` as an actor id.
    ///
    /// # Errors
    /// [`IdError::InvalidActorId`] when the id is empty, longer than [`MAX_ACTOR_ID_LEN`]
    /// bytes, or holds a control character or `/`.
    pub fn new(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        let reason = if id.is_empty() {
            Some("it is empty")
        } else if id.len() > MAX_ACTOR_ID_LEN {
            Some("it is longer than 512 bytes")
        } else if id.chars().any(char::is_control) {
            Some("it holds a control character")
        } else if id.contains('/') {
            Some("it holds `/`, which MQLess uses as the key delimiter")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(IdError::InvalidActorId { id, reason }),
            None => Ok(Self(id)),
        }
    }

    /// The id as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an actor lives: its type and its id. Displayed as `type/id`, which is also its
/// partition key in DynamoDB.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    actor_type: ActorType,
    id: ActorId,
}

impl Address {
    /// The address of actor `id` of type `actor_type`.
    #[must_use]
    pub fn new(actor_type: ActorType, id: ActorId) -> Self {
        Self { actor_type, id }
    }

    /// Parses `type/id` (the partition key form).
    ///
    /// # Errors
    /// When there is no `/` or either part is invalid.
    pub fn parse(key: &str) -> Result<Self, IdError> {
        let (actor_type, id) = key.split_once('/').ok_or_else(|| IdError::InvalidActorId {
            id: key.to_owned(),
            reason: "an address has the form `type/id`",
        })?;
        Ok(Self::new(ActorType::new(actor_type)?, ActorId::new(id)?))
    }

    /// The actor's type.
    #[must_use]
    pub fn actor_type(&self) -> &ActorType {
        &self.actor_type
    }

    /// The actor's id.
    #[must_use]
    pub fn id(&self) -> &ActorId {
        &self.id
    }
}

macro_rules! display_as_str {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    )*};
}
display_as_str!(ActorType, ActorId);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.actor_type, self.id)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// A message id: 48 bits of milliseconds since the Unix epoch, then 80 bits that count
/// up from a random start in each process, across milliseconds (the ULID layout, its
/// monotonic count kept from one millisecond to the next). Ids sort by
/// time, and ids made by one process are strictly increasing, so a mailbox read in id
/// order keeps each sender's order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(u128);

// On the wire a message id is 16 big-endian bytes: compact, and MessagePack has no u128.
impl serde::Serialize for MessageId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0.to_be_bytes())
    }
}

impl<'de> serde::Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes::ByteBuf = serde::Deserialize::deserialize(deserializer)?;
        let array: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::invalid_length(bytes.len(), &"16 bytes"))?;
        Ok(Self(u128::from_be_bytes(array)))
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Length of a message id's text form.
pub const MESSAGE_ID_LEN: usize = 26;

impl MessageId {
    /// The id from its 128-bit value.
    #[must_use]
    pub const fn from_u128(value: u128) -> Self {
        Self(value)
    }

    /// The id's 128-bit value.
    #[must_use]
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// Milliseconds since the Unix epoch at which the id was made.
    #[must_use]
    pub const fn timestamp_millis(self) -> u64 {
        (self.0 >> 80) as u64
    }

    /// The id of a message scheduled for `at_millis`: its time part is the delivery time,
    /// so the mailbox holds scheduled messages in delivery order, after every message sent
    /// before that time. Outside this process's sequence of [`MessageId::generate`] (a
    /// far-future id must not become the floor of the next immediate sends); random low
    /// bits keep two scheduled for the same millisecond apart.
    #[must_use]
    pub fn scheduled(at_millis: u64) -> Self {
        let time_part = u128::from(at_millis & 0xFFFF_FFFF_FFFF) << 80;
        Self(
            time_part
                | (u128::from(random_u64()) << 15 | u128::from(random_u64() & 0x7FFF))
                    & ((1 << 79) - 1),
        )
    }

    /// A new id, later than every id this process made before without a floor, and
    /// later than `floor`. `now_millis` is the caller's clock.
    ///
    /// The floor orders the caller's own sequence (an actor's sends after its last
    /// committed one, a client's `send` invocation after its previous message): it
    /// moves only this id, never the ids this process makes for anyone else, so no
    /// caller can shift the order of messages that are not its own. A floor more than
    /// [`MAX_FUTURE_SKEW_MILLIS`] ahead of `now_millis` is taken as corrupt (a foreign
    /// or hand-written id in a state record) and ignored.
    #[must_use]
    pub fn generate(now_millis: u64, floor: Option<MessageId>) -> Self {
        static PROCESS: Mutex<Sequence> = Mutex::new(Sequence(0));
        PROCESS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .next(now_millis, floor)
    }

    /// Parses the 26-character text form.
    ///
    /// # Errors
    /// When `text` is not 26 Crockford base-32 characters.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let invalid = || IdError::InvalidMessageId {
            text: text.chars().take(64).collect(),
        };
        if text.len() != MESSAGE_ID_LEN {
            return Err(invalid());
        }
        let mut value: u128 = 0;
        for (i, byte) in text.bytes().enumerate() {
            let digit = CROCKFORD
                .iter()
                .position(|&c| c == byte.to_ascii_uppercase())
                .ok_or_else(invalid)?;
            // The first character carries only 3 bits (26 * 5 = 130 > 128).
            if i == 0 && digit > 7 {
                return Err(invalid());
            }
            value = (value << 5) | digit as u128;
        }
        Ok(Self(value))
    }
}

/// A process's sequence of ids: strictly increasing whatever the clock does.
struct Sequence(u128);

impl Sequence {
    fn next(&mut self, now_millis: u64, floor: Option<MessageId>) -> MessageId {
        let time_part = u128::from(now_millis & 0xFFFF_FFFF_FFFF) << 80;
        let own = if time_part > self.0 {
            // A new millisecond. The low bits go on counting from the last id (random at
            // the process's first), so ids of different processes rarely meet and one
            // process's ids in a mailbox are a count apart: the state record stores a
            // batch's consumed ids by their distances (`mailbox::consumed_ids`). Kept
            // below 2^79, so counting up within a millisecond cannot reach its time.
            let low = (self.0 & ((1 << 80) - 1)) + 1;
            let low = if self.0 == 0 || low >= 1 << 79 {
                (u128::from(random_u64()) << 15 | u128::from(random_u64() & 0x7FFF))
                    & ((1 << 79) - 1)
            } else {
                low
            };
            time_part | low
        } else {
            self.0 + 1
        };
        self.0 = own;
        let ceiling =
            u128::from(now_millis.saturating_add(MAX_FUTURE_SKEW_MILLIS) & 0xFFFF_FFFF_FFFF) << 80
                | ((1 << 80) - 1);
        match floor.map(|f| f.0).filter(|floor| *floor <= ceiling) {
            // Just after the floor, with random low bits so that two callers with one
            // floor (two drains racing for one actor) still get different ids.
            Some(floor) if floor >= own => {
                MessageId(floor.saturating_add(1 + u128::from(random_u64() & 0xFFFF)))
            }
            _ => MessageId(own),
        }
    }
}

pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded from the OS once per process and varies per instance, so
    // hashing a counter with it gives unpredictable bits without a `rand` dependency.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; MESSAGE_ID_LEN];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (MESSAGE_ID_LEN - 1 - i);
            *slot = CROCKFORD[((self.0 >> shift) & 0x1F) as usize];
        }
        // Every byte comes from the ASCII alphabet above.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_far_future_floor_does_not_move_the_generator() {
        // Later than any other test's ids (they share the process-wide generator).
        let now = 5_000_000_000_000;
        let far = MessageId::parse("7ZZZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
        let next = MessageId::generate(now, Some(far));
        assert!(next < far, "a corrupt floor is ignored");
        let within = |id: MessageId| id.timestamp_millis() <= now + MAX_FUTURE_SKEW_MILLIS;
        assert!(next.timestamp_millis() >= now && within(next));
        let later = MessageId::generate(now, None);
        assert!(later > next && within(later));
        // A floor within the allowed skew still orders the next id.
        let near = MessageId::generate(now + 60_000, None);
        assert!(MessageId::generate(now, Some(near)) > near);
    }

    #[test]
    fn a_callers_floor_moves_only_its_own_id() {
        let now = 1_800_000_000_000;
        let mut sequence = Sequence(0);
        let before = sequence.next(now, None);
        let ahead = MessageId::from_u128(u128::from(now + 570_000) << 80);
        let after_floor = sequence.next(now, Some(ahead));
        assert!(after_floor > ahead, "the caller's own order holds");
        let next = sequence.next(now, None);
        assert!(next > before, "the sequence still increases");
        assert_eq!(
            next.timestamp_millis(),
            now,
            "and is not moved by the floor"
        );
        // The caller's next id with its floor still follows its own.
        assert!(sequence.next(now, Some(after_floor)) > after_floor);
        // A floor behind the sequence changes nothing.
        let behind = sequence.next(now, Some(before));
        assert!(behind > next && behind.timestamp_millis() == now);
    }

    #[test]
    fn a_process_counts_on_across_milliseconds_from_a_random_start() {
        let low = |id: MessageId| id.as_u128() & ((1 << 80) - 1);
        let (mut one, mut other) = (Sequence(0), Sequence(0));
        let first = one.next(1_800_000_000_000, None);
        assert_ne!(low(first), low(other.next(1_800_000_000_000, None)));
        let same_millisecond = one.next(1_800_000_000_000, None);
        let later = one.next(1_800_000_000_007, None);
        assert_eq!(low(same_millisecond), low(first) + 1);
        assert_eq!(low(later), low(first) + 2);
        assert_eq!(later.timestamp_millis(), 1_800_000_000_007);
        // At 2^79 the count starts again from random bits, below it.
        let mut full = Sequence(u128::from(1_800_000_000_000u64) << 80 | ((1 << 79) - 1));
        let fresh = full.next(1_800_000_000_001, None);
        assert!(low(fresh) < 1 << 79 && fresh.timestamp_millis() == 1_800_000_000_001);
    }

    #[test]
    fn ids_round_trip_and_sort_as_text() {
        let mut previous: Option<MessageId> = None;
        for now in [
            1_700_000_000_000,
            1_700_000_000_000,
            1_699_999_999_000,
            1_700_000_000_001,
        ] {
            let id = MessageId::generate(now, None);
            assert_eq!(MessageId::parse(&id.to_string()).unwrap(), id);
            if let Some(prev) = previous {
                assert!(id > prev, "ids must increase even when the clock goes back");
                assert!(
                    id.to_string() > prev.to_string(),
                    "text order must follow value order"
                );
            }
            previous = Some(id);
        }
    }

    #[test]
    fn generate_respects_floor() {
        let floor = MessageId::generate(4_000_000_000_000, None);
        let next = MessageId::generate(1, Some(floor));
        assert!(next > floor);
    }

    #[test]
    fn rejects_bad_ids() {
        assert!(MessageId::parse("").is_err());
        assert!(MessageId::parse("ZZZZZZZZZZZZZZZZZZZZZZZZZZ").is_err());
        assert!(MessageId::parse("0000000000000000000000000!").is_err());
        assert!(ActorId::new("a\u{0}b").is_err());
        assert!(ActorId::new("x".repeat(513)).is_err());
        assert!(ActorType::new("a".repeat(65)).is_err());
        assert_eq!(
            Address::parse("Counter/c1").unwrap().to_string(),
            "Counter/c1"
        );
    }
}
