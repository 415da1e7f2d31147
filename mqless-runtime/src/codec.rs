//! The MessagePack codec: the single place where MQLess turns values into bytes and back.
//!
//! Encoding uses named fields (`rmp_serde::to_vec_named`), so field and variant names are
//! the wire contract and adding an `Option` field never breaks old messages. Decoding
//! first walks the bytes without recursion ([`scan`]) to enforce the size and depth limits
//! and to reject impossible length prefixes before serde allocates anything.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::CodecError;

/// Size and nesting limits applied to every payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded message body, in bytes.
    pub max_message_bytes: usize,
    /// Largest encoded actor state, in bytes. DynamoDB items hold at most 400 KB, and the
    /// state item also carries the last batch's bookkeeping.
    pub max_state_bytes: usize,
    /// Deepest nesting of arrays and maps in any payload.
    pub max_depth: usize,
}

impl Limits {
    /// The defaults: 64 KiB messages, 256 KiB state, 64 levels of nesting. With the
    /// batch bookkeeping (64 KiB) and one reply, a state record stays under DynamoDB's
    /// 400 KB item limit.
    pub const DEFAULT: Self = Self {
        max_message_bytes: 64 * 1024,
        max_state_bytes: 256 * 1024,
        max_depth: 64,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Encodes `value` with named fields, failing if the result is over `max_bytes`.
///
/// # Errors
/// [`CodecError::Encode`] when serde fails, [`CodecError::TooLarge`] over the limit.
pub fn encode<T: Serialize + ?Sized>(
    value: &T,
    what: &'static str,
    max_bytes: usize,
) -> Result<Vec<u8>, CodecError> {
    let bytes = rmp_serde::to_vec_named(value).map_err(|e| CodecError::Encode {
        what,
        detail: e.to_string(),
    })?;
    if bytes.len() > max_bytes {
        return Err(CodecError::TooLarge {
            what,
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    Ok(bytes)
}

/// Decodes `bytes` as a `T` after checking size, well-formedness and depth.
///
/// # Errors
/// [`CodecError::TooLarge`], [`CodecError::TooDeep`], [`CodecError::Malformed`] or
/// [`CodecError::Mismatch`]; never panics, whatever the bytes.
///
/// ```
/// use mqless_runtime::codec::{decode, encode};
/// let bytes = encode(&vec![1u8, 2, 3], "example", 1024).unwrap();
/// let back: Vec<u8> = decode(&bytes, "example", 1024, 8).unwrap();
/// assert_eq!(back, [1, 2, 3]);
/// assert!(decode::<Vec<u8>>(&[0xdd, 0xff, 0xff, 0xff, 0xff], "example", 1024, 8).is_err());
/// ```
pub fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
    max_bytes: usize,
    max_depth: usize,
) -> Result<T, CodecError> {
    if bytes.len() > max_bytes {
        return Err(CodecError::TooLarge {
            what,
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    scan(bytes, what, max_depth)?;
    rmp_serde::from_slice(bytes).map_err(|e| CodecError::Mismatch {
        what,
        detail: e.to_string(),
    })
}

/// Checks that `bytes` hold exactly one well-formed MessagePack value nesting at most
/// `max_depth` containers deep, in one pass and constant stack.
///
/// # Errors
/// [`CodecError::Malformed`] or [`CodecError::TooDeep`].
pub fn scan(bytes: &[u8], what: &'static str, max_depth: usize) -> Result<(), CodecError> {
    let malformed = |at: usize, why: &str| CodecError::Malformed {
        what,
        detail: format!("{why} at byte {at}"),
    };
    // Elements still expected by each open container, innermost last.
    let mut open: Vec<u64> = Vec::new();
    let mut pos = 0usize;
    loop {
        let marker = *bytes
            .get(pos)
            .ok_or_else(|| malformed(pos, "unexpected end of input"))?;
        let start = pos;
        pos += 1;
        let Header { skip, elements } =
            header(marker, bytes, &mut pos).map_err(|why| malformed(start, why))?;
        let remaining = (bytes.len() - pos) as u64;
        if skip > remaining {
            return Err(malformed(start, "length prefix runs past the end of input"));
        }
        pos += usize::try_from(skip).map_err(|_| malformed(start, "length prefix too large"))?;
        if let Some(n) = elements.filter(|n| *n > 0) {
            // Every element takes at least one byte: a larger count is a lie that would
            // make a decoder reserve memory for nothing.
            if n > (bytes.len() - pos) as u64 {
                return Err(malformed(
                    start,
                    "container length exceeds the remaining input",
                ));
            }
            if open.len() >= max_depth {
                return Err(CodecError::TooDeep {
                    what,
                    limit: max_depth,
                });
            }
            open.push(n);
            continue;
        }
        // A complete value: count it against the enclosing containers.
        if close_value(&mut open) {
            return if pos == bytes.len() {
                Ok(())
            } else {
                Err(malformed(pos, "trailing bytes after the value"))
            };
        }
    }
}

/// What follows a value's marker: payload bytes to skip, or a container's elements.
struct Header {
    skip: u64,
    elements: Option<u64>,
}

/// The header of the value whose marker was just read; `pos` moves past its length
/// bytes. The error says what is wrong.
fn header(marker: u8, bytes: &[u8], pos: &mut usize) -> Result<Header, &'static str> {
    let mut len = |width| read_len(bytes, pos, width).ok_or("truncated length");
    let payload = |skip| {
        Ok(Header {
            skip,
            elements: None,
        })
    };
    let container = |n| {
        Ok(Header {
            skip: 0,
            elements: Some(n),
        })
    };
    match marker {
        0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => payload(0),
        0x80..=0x8f => container(2 * u64::from(marker & 0x0f)),
        0x90..=0x9f => container(u64::from(marker & 0x0f)),
        0xa0..=0xbf => payload(u64::from(marker & 0x1f)),
        0xc1 => Err("reserved marker 0xc1"),
        // bin and str with a 1-, 2- or 4-byte length.
        0xc4 | 0xd9 => payload(len(1)?),
        0xc5 | 0xda => payload(len(2)?),
        0xc6 | 0xdb => payload(len(4)?),
        // ext: the type byte follows the length.
        0xc7 => payload(len(1)? + 1),
        0xc8 => payload(len(2)? + 1),
        0xc9 => payload(len(4)? + 1),
        0xcc | 0xd0 => payload(1),
        0xcd | 0xd1 | 0xd4 => payload(2),
        0xd5 => payload(3),
        0xca | 0xce | 0xd2 => payload(4),
        0xd6 => payload(5),
        0xcb | 0xcf | 0xd3 => payload(8),
        0xd7 => payload(9),
        0xd8 => payload(17),
        0xdc => container(len(2)?),
        0xdd => container(len(4)?),
        0xde => container(2 * len(2)?),
        0xdf => container(2 * len(4)?),
    }
}

/// Counts a complete value against the open containers, closing those it completes;
/// whether the top-level value is complete.
fn close_value(open: &mut Vec<u64>) -> bool {
    while let Some(left) = open.last_mut() {
        *left -= 1;
        if *left > 0 {
            return false;
        }
        open.pop();
    }
    true
}

fn read_len(bytes: &[u8], pos: &mut usize, width: usize) -> Option<u64> {
    let slice = bytes.get(*pos..*pos + width)?;
    *pos += width;
    Some(slice.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    enum Msg {
        #[serde(rename = "add")]
        Add { by: i64, note: Option<String> },
    }

    #[test]
    fn named_fields_and_optional_additions() {
        #[derive(serde::Serialize)]
        enum Old {
            #[serde(rename = "add")]
            Add { by: i64 },
        }
        let bytes = encode(&Old::Add { by: 5 }, "message", 1024).unwrap();
        let new: Msg = decode(&bytes, "message", 1024, 8).unwrap();
        assert_eq!(new, Msg::Add { by: 5, note: None });
    }

    #[test]
    fn scan_accepts_what_rmp_writes() {
        let mut map = BTreeMap::new();
        map.insert(
            "k".to_owned(),
            vec![(1.5f64, -3i64, u64::MAX, "x".repeat(300), vec![0u8; 70_000])],
        );
        let bytes = encode(&map, "value", usize::MAX).unwrap();
        scan(&bytes, "value", 8).unwrap();
    }

    #[test]
    fn rejects_bombs_and_garbage() {
        let deep: Vec<u8> = std::iter::repeat_n(0x91, 10_000).chain([0x00]).collect();
        assert!(matches!(
            decode::<serde::de::IgnoredAny>(&deep, "m", usize::MAX, 64),
            Err(CodecError::TooDeep { .. })
        ));
        let huge_array = [0xdd, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert!(matches!(
            scan(&huge_array, "m", 64),
            Err(CodecError::Malformed { .. })
        ));
        let huge_str = [0xdb, 0xff, 0xff, 0xff, 0xff, b'a'];
        assert!(matches!(
            scan(&huge_str, "m", 64),
            Err(CodecError::Malformed { .. })
        ));
        assert!(matches!(
            scan(&[0xc1], "m", 64),
            Err(CodecError::Malformed { .. })
        ));
        assert!(matches!(
            scan(&[0x01, 0x02], "m", 64),
            Err(CodecError::Malformed { .. })
        ));
        assert!(matches!(
            scan(&[], "m", 64),
            Err(CodecError::Malformed { .. })
        ));
        assert!(matches!(
            decode::<Msg>(&[0x01], "m", 64, 8),
            Err(CodecError::Mismatch { .. })
        ));
        assert!(matches!(
            decode::<Msg>(&[0u8; 2000], "m", 1024, 8),
            Err(CodecError::TooLarge { .. })
        ));
    }

    #[test]
    fn scan_never_panics_on_short_inputs() {
        // Every input of up to two bytes, and every truncation of a real payload.
        for a in 0..=255u8 {
            let _ = scan(&[a], "m", 4);
            for b in 0..=255u8 {
                let _ = scan(&[a, b], "m", 4);
                let _ = decode::<Msg>(&[a, b], "m", 64, 4);
            }
        }
        let bytes = encode(
            &Msg::Add {
                by: -7,
                note: Some("hi".into()),
            },
            "m",
            1024,
        )
        .unwrap();
        for cut in 0..bytes.len() {
            assert!(decode::<Msg>(&bytes[..cut], "m", 1024, 8).is_err());
        }
    }
}
