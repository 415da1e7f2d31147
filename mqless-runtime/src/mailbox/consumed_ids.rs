//! The consumed ids of a batch, as the state record stores them: one binary string of
//! sorted ids, each after the first as its distance from the one before.
//!
//! Every commit rewrites the record, and DynamoDB bills it per started KB, so the ids'
//! bytes decide whether a batch's commit costs one write unit or two. A mailbox is read in
//! id order and a sender's ids count up (`MessageId::generate` carries its low bits on
//! from one millisecond to the next), so the ids of a batch are mostly a few milliseconds
//! and a few counts apart: two bytes each instead of eighteen. Ids far apart (other
//! senders, scheduled fires) cost at most seventeen.
//!
//! An entry is a varint `k`, then either the id's 16 bytes (`k = 0`) or, for `k - 1`
//! milliseconds after the previous id, the zigzag varint of the difference of the 80 low
//! bits. Records written before this encoding hold a list of 16-byte ids, still read.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

use crate::id::MessageId;

const LOW_BITS: u32 = 80;
const LOW_MASK: u128 = (1 << LOW_BITS) - 1;
/// An id written whole: the `k = 0` marker and its 16 bytes.
const WHOLE_ENTRY_BYTES: usize = 17;

/// Encodes `ids`, sorted and without repeats.
pub(super) fn encode(ids: &[MessageId]) -> Vec<u8> {
    let mut sorted: Vec<u128> = ids.iter().map(|id| id.as_u128()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::with_capacity(sorted.len() * 3 + WHOLE_ENTRY_BYTES);
    let mut previous = 0u128;
    let mut entry = Vec::with_capacity(2 * WHOLE_ENTRY_BYTES);
    for id in sorted {
        entry.clear();
        let millis = (id >> LOW_BITS) - (previous >> LOW_BITS);
        let low = (id & LOW_MASK) as i128 - (previous & LOW_MASK) as i128;
        put_varint(&mut entry, millis + 1);
        put_varint(&mut entry, zigzag(low));
        if entry.len() < WHOLE_ENTRY_BYTES {
            out.extend_from_slice(&entry);
        } else {
            out.push(0);
            out.extend_from_slice(&id.to_be_bytes());
        }
        previous = id;
    }
    out
}

/// Decodes what [`encode`] wrote.
pub(super) fn decode(mut bytes: &[u8]) -> Result<Vec<MessageId>, String> {
    let mut ids = Vec::new();
    let mut previous = 0u128;
    while !bytes.is_empty() {
        let id = match take_varint(&mut bytes)? {
            0 => {
                let (whole, rest) = bytes.split_first_chunk::<16>().ok_or("an id cut short")?;
                bytes = rest;
                u128::from_be_bytes(*whole)
            }
            k => {
                let out_of_range = || "an id out of range".to_owned();
                let millis = (previous >> LOW_BITS)
                    .checked_add(k - 1)
                    .filter(|millis| millis >> (128 - LOW_BITS) == 0)
                    .ok_or_else(out_of_range)?;
                let low = ((previous & LOW_MASK) as i128)
                    .checked_add(unzigzag(take_varint(&mut bytes)?))
                    .filter(|low| (0..=LOW_MASK as i128).contains(low))
                    .ok_or_else(out_of_range)?;
                millis << LOW_BITS | low as u128
            }
        };
        if !ids.is_empty() && id <= previous {
            return Err("ids out of order".into());
        }
        ids.push(MessageId::from_u128(id));
        previous = id;
    }
    Ok(ids)
}

fn zigzag(value: i128) -> u128 {
    ((value << 1) ^ (value >> 127)) as u128
}

fn unzigzag(value: u128) -> i128 {
    (value >> 1) as i128 ^ -((value & 1) as i128)
}

fn put_varint(out: &mut Vec<u8>, mut value: u128) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Result<u128, String> {
    let mut value = 0u128;
    for shift in (0..128).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or("a number cut short")?;
        *bytes = rest;
        let bits = u128::from(byte & 0x7F);
        if shift == 126 && bits > 0b11 {
            break;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a number over 128 bits".into())
}

/// `#[serde(with = "consumed_ids")]`: writes the compact form, reads it or the list.
pub(super) fn serialize<S: Serializer>(
    ids: &[MessageId],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(&encode(ids))
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<MessageId>, D::Error> {
    deserializer.deserialize_any(ConsumedIds)
}

struct ConsumedIds;

impl<'de> Visitor<'de> for ConsumedIds {
    type Value = Vec<MessageId>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("consumed message ids: their compact binary form, or a list of ids")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Self::Value, E> {
        decode(bytes).map_err(|reason| E::custom(format!("consumed ids: {reason}")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut ids = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(id) = seq.next_element()? {
            ids.push(id);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(millis: u64, low: u128) -> MessageId {
        MessageId::from_u128(u128::from(millis) << LOW_BITS | low)
    }

    #[test]
    fn a_senders_run_of_ids_takes_two_bytes_each() {
        let start = 0x1234_5678_9ABC_DEF0_1234;
        let ids: Vec<MessageId> = (0..10)
            .map(|i| id(1_765_000_000_000 + 3 * i, start + u128::from(i)))
            .collect();
        let bytes = encode(&ids);
        assert_eq!(bytes.len(), WHOLE_ENTRY_BYTES + 9 * 2);
        assert_eq!(decode(&bytes).unwrap(), ids);
    }

    #[test]
    fn ids_far_apart_are_written_whole_and_every_id_comes_back_sorted() {
        let ids = vec![
            id(1_765_000_000_000, LOW_MASK),
            id(1, 0),
            id(1_765_000_000_000, 0),
            MessageId::from_u128(u128::MAX),
            id(1_765_000_000_005, LOW_MASK / 2),
            id(1_765_000_000_000, 0),
        ];
        let mut expected = ids.clone();
        expected.sort();
        expected.dedup();
        let bytes = encode(&ids);
        assert!(bytes.len() <= expected.len() * WHOLE_ENTRY_BYTES);
        assert_eq!(decode(&bytes).unwrap(), expected);
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::<MessageId>::new());
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let ids = [id(1_765_000_000_000, 7), id(1_765_000_000_001, 9)];
        let bytes = encode(&ids);
        // The first entry takes 7 bytes (6 of milliseconds), the second 2.
        assert_eq!(bytes.len(), 9);
        for cut in [1, 5, 6, 8] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[0xFF; 20]).is_err(), "a number over 128 bits");
        // Past the largest id: millisecond 2^48.
        let mut past = encode(&[MessageId::from_u128(u128::MAX)]);
        past.extend_from_slice(&[2, 0]);
        assert!(decode(&past).is_err());
        // The same id twice.
        let mut again = encode(&[id(5, 5)]);
        again.extend_from_slice(&[1, 0]);
        assert!(decode(&again).is_err());
    }

    proptest::proptest! {
        /// Any ids, near one another or not, come back sorted and once each, in at most
        /// 17 bytes an id.
        #[test]
        fn every_set_of_ids_comes_back(
            runs in proptest::collection::vec(
                (proptest::prelude::any::<u128>(), 0u64..50, 0u128..5, 1usize..6),
                0..12,
            )
        ) {
            // Runs of ids a few milliseconds and counts apart, from anywhere.
            let ids: Vec<MessageId> = runs
                .iter()
                .flat_map(|&(start, millis, count, length)| {
                    (0..length as u128).map(move |i| {
                        let time = (start >> LOW_BITS).saturating_add(u128::from(millis) * i);
                        let low = (start & LOW_MASK).saturating_add(count * i) & LOW_MASK;
                        MessageId::from_u128((time.min(0xFFFF_FFFF_FFFF)) << LOW_BITS | low)
                    })
                })
                .collect();
            let mut expected = ids.clone();
            expected.sort();
            expected.dedup();
            let bytes = encode(&ids);
            proptest::prop_assert!(bytes.len() <= expected.len() * WHOLE_ENTRY_BYTES);
            proptest::prop_assert_eq!(decode(&bytes).unwrap(), expected);
        }

        /// Whatever the bytes (a record written past MQLess), decoding answers.
        #[test]
        fn any_bytes_decode_or_fail_without_a_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)
        ) {
            if let Ok(ids) = decode(&bytes) {
                proptest::prop_assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
            }
        }
    }

    #[test]
    fn the_list_form_of_earlier_records_is_still_read() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Old {
            c: Vec<MessageId>,
        }
        #[derive(serde::Deserialize)]
        struct New {
            #[serde(with = "super")]
            c: Vec<MessageId>,
        }
        let ids = vec![id(3, 4), id(3, 5)];
        let old = rmp_serde::to_vec_named(&Old { c: ids.clone() }).unwrap();
        let read: New = rmp_serde::from_slice(&old).unwrap();
        assert_eq!(read.c, ids);
    }
}
