//! What the state record remembers of the last committed batch (consumed ids, replies,
//! failures) and across batches (the last id this actor sent, recent idempotency keys).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::Error;
use crate::events::{Emission, MAX_EMISSION_DEPTH};
use crate::id::MessageId;
use crate::store::{DeadLetterKind, Failure, KeyedBytes};
use crate::wire::ReplyRecord;

use super::reminder::Registry;

/// Longest error text kept in a dead letter or reply.
pub(super) const MAX_ERROR_LEN: usize = 1024;
/// What one reply adds to the encoded bookkeeping besides its bytes (its map, keys and id).
pub(super) const REPLY_OVERHEAD: usize = 40;
/// What one failure adds besides its error text.
pub(super) const FAILURE_OVERHEAD: usize = 56;
/// What one emission adds besides its own encoding (its place in the list).
pub(super) const EMISSION_OVERHEAD: usize = 8;
/// What one consumed id adds at most (`consumed_ids`: 17 bytes for an id written whole,
/// about 2 for one a count from the last; the budget assumes the worst).
pub(super) const CONSUMED_BYTES: usize = 18;
/// What one remembered idempotency key adds besides its text.
pub(super) const KEY_OVERHEAD: usize = 2;

/// The bookkeeping stored beside the state in the `#state` record. One-letter field
/// names, and empty fields left out, keep a typical record under the 1 KB that one write
/// unit pays for (the long names of earlier versions are still read).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Bookkeeping {
    #[serde(
        default,
        rename = "c",
        alias = "consumed",
        with = "super::consumed_ids",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(super) consumed: Vec<MessageId>,
    #[serde(
        default,
        rename = "r",
        alias = "replies",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(super) replies: Vec<KeyedBytes>,
    #[serde(
        default,
        rename = "f",
        alias = "failures",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(super) failures: Vec<Failure>,
    /// The last message id this actor generated for its sends.
    #[serde(
        default,
        rename = "s",
        alias = "last_sent",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) last_sent: Option<MessageId>,
    #[serde(
        default,
        rename = "k",
        alias = "recent_keys",
        skip_serializing_if = "VecDeque::is_empty"
    )]
    pub(super) recent_keys: VecDeque<String>,
    /// The latest registration (or cancel) of each of this actor's reminder names: a
    /// fire of an older registration is stale, and dropped.
    #[serde(default, rename = "n", skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) reminders: BTreeMap<String, MessageId>,
    /// The queued fire of each live reminder: only that fire goes on with the chain.
    #[serde(default, rename = "t", skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) reminder_fires: BTreeMap<String, MessageId>,
    /// The asks this actor made with `reply_to` that neither their reply nor their
    /// timeout settled yet, by their timeout message's id.
    #[serde(default, rename = "a", skip_serializing_if = "BTreeSet::is_empty")]
    pub(super) awaiting: BTreeSet<MessageId>,
    /// Asks whose timeout was dead-lettered without running (the stall rule, a refused
    /// commit): still open to their reply or a redrive of the timeout, but no longer
    /// holding one of the `MAX_AWAITING` slots; the oldest are given up past as many.
    #[serde(default, rename = "x", skip_serializing_if = "BTreeSet::is_empty")]
    pub(super) timeouts_in_dead_letters: BTreeSet<MessageId>,
    /// What this batch's handlers emitted to channels outside MQLess, in order:
    /// delivered by the cleanup, before the consumed messages are deleted (so a repeat
    /// of an unfinished cleanup delivers them again).
    #[serde(default, rename = "e", skip_serializing_if = "Vec::is_empty")]
    pub(super) emissions: Vec<Emission>,
    /// This batch left the actor stopped: its cleanup, once done, lets the record expire
    /// (never the commit, or TTL could delete the record before a cut cleanup is
    /// repeated from it, and its messages would run again).
    #[serde(default, rename = "z", skip_serializing_if = "std::ops::Not::not")]
    pub(super) stopped: bool,
    /// Bytes of `replies`, `failures` and `emissions` so far, so the per-message budget
    /// check is O(1).
    #[serde(skip)]
    recorded_bytes: usize,
}

/// The ids the last committed batch consumed, from a state record's bookkeeping
/// (`meta`): messages that ran, whose cleanup may not have deleted them yet. A store
/// settling a put whose answer was lost looks for its message here.
#[cfg(feature = "aws")]
pub(crate) fn consumed_by_last_batch(meta: Option<&[u8]>) -> Result<Vec<MessageId>, Error> {
    Ok(Bookkeeping::decode(meta)?.consumed)
}

impl Bookkeeping {
    /// Decodes the bookkeeping of a state record (`None`: the actor never committed).
    pub(super) fn decode(meta: Option<&[u8]>) -> Result<Self, Error> {
        Ok(match meta {
            // Its own fields nest a few levels; an emission sits two levels down.
            Some(bytes) => codec::decode(
                bytes,
                "batch bookkeeping",
                usize::MAX,
                8 + MAX_EMISSION_DEPTH,
            )?,
            None => Self::default(),
        })
    }

    pub(super) fn encode(&self) -> Result<Vec<u8>, Error> {
        Ok(codec::encode(self, "batch bookkeeping", usize::MAX)?)
    }

    /// The bookkeeping of a new batch: per-batch lists empty, cross-batch memory kept.
    pub(super) fn next_batch(&self) -> Self {
        Self {
            last_sent: self.last_sent,
            recent_keys: self.recent_keys.clone(),
            reminders: self.reminders.clone(),
            reminder_fires: self.reminder_fires.clone(),
            awaiting: self.awaiting.clone(),
            timeouts_in_dead_letters: self.timeouts_in_dead_letters.clone(),
            ..Self::default()
        }
    }

    /// Whether the record keeps track of something still to come, idle or not: an open
    /// ask (its reply or timeout) or a live reminder (its next fire).
    pub(super) fn tracks_anything(&self) -> bool {
        !self.awaiting.is_empty()
            || !self.timeouts_in_dead_letters.is_empty()
            || !self.reminder_fires.is_empty()
    }

    /// Abandons every open ask (the actor stopped): their replies and timeouts are
    /// dropped as settled; returns the timeouts, to delete from the mailbox.
    pub(super) fn abandon_asks(&mut self) -> Vec<MessageId> {
        let mut timeouts: Vec<MessageId> = std::mem::take(&mut self.awaiting).into_iter().collect();
        self.timeouts_in_dead_letters.clear();
        timeouts.retain(|id| !self.consumed.contains(id));
        timeouts
    }

    pub(super) fn is_empty(&self) -> bool {
        self.consumed.is_empty()
            && self.replies.is_empty()
            && self.failures.is_empty()
            && self.emissions.is_empty()
    }

    /// Records what a handler emitted, to deliver after the commit.
    pub(super) fn emit(&mut self, emissions: Vec<Emission>) -> Result<(), Error> {
        for emission in emissions {
            self.recorded_bytes +=
                codec::encode(&emission, "emission", usize::MAX)?.len() + EMISSION_OVERHEAD;
            self.emissions.push(emission);
        }
        Ok(())
    }

    /// Bytes of this batch's replies, failures, emissions and consumed ids, as encoded.
    pub(super) fn batch_bytes(&self) -> usize {
        self.recorded_bytes + self.consumed.len() * CONSUMED_BYTES
    }

    /// The encoded size of the whole bookkeeping, closely estimated from above: this
    /// batch's part and what is kept across batches (the idempotency-key window).
    pub(super) fn bytes(&self) -> usize {
        let keys: usize = self
            .recent_keys
            .iter()
            .map(|k| k.len() + KEY_OVERHEAD)
            .sum();
        let reminders: usize = self
            .reminders
            .keys()
            .chain(self.reminder_fires.keys())
            .map(|name| name.len() + CONSUMED_BYTES + KEY_OVERHEAD)
            .sum();
        let awaiting = (self.awaiting.len() + self.timeouts_in_dead_letters.len()) * CONSUMED_BYTES;
        // The map's field names and the last sent id.
        const FIXED: usize = 96;
        self.batch_bytes() + keys + reminders + awaiting + FIXED
    }

    /// The reminders' registry, to classify, chain and cancel fires.
    pub(super) fn registry(&mut self) -> Registry<'_> {
        Registry {
            latest: &mut self.reminders,
            tips: &mut self.reminder_fires,
        }
    }

    /// Records that message `id` failed for good, with `error`, after `attempts` tries.
    pub(super) fn fail(&mut self, id: MessageId, error: String, attempts: u32) {
        let failure = Failure {
            id,
            error: truncate(error),
            attempts,
            kind: DeadLetterKind::Failed,
        };
        self.recorded_bytes += failure.error.len() + FAILURE_OVERHEAD;
        self.failures.push(failure);
    }

    /// Records that tell `id` returned `Err` with `error`: kept as a `Rejected` dead
    /// letter, as nobody waits for its reply.
    pub(super) fn reject(&mut self, id: MessageId, error: String) {
        let failure = Failure {
            id,
            error: truncate(error),
            attempts: 1,
            kind: DeadLetterKind::Rejected,
        };
        self.recorded_bytes += failure.error.len() + FAILURE_OVERHEAD;
        self.failures.push(failure);
    }

    /// Records the reply to ask `id` from `asker` (its identity, if the ask named a
    /// valid one: a reply to an asker that cannot be a key is kept without it, where
    /// that asker does not read, and it times out).
    pub(super) fn reply(
        &mut self,
        id: MessageId,
        record: &ReplyRecord,
        asker: Option<&str>,
    ) -> Result<(), Error> {
        let bytes = codec::encode(record, "reply", usize::MAX)?;
        let asker = asker.filter(|asker| crate::wire::valid_asker(asker).is_ok());
        self.recorded_bytes += bytes.len() + REPLY_OVERHEAD + asker.map_or(0, str::len);
        self.replies.push(KeyedBytes {
            id,
            bytes,
            asker: asker.map(str::to_owned),
        });
        Ok(())
    }

    pub(super) fn remember_key(&mut self, key: Option<String>, window: usize) {
        if let Some(key) = key {
            self.recent_keys.push_back(key);
            while self.recent_keys.len() > window {
                self.recent_keys.pop_front();
            }
        }
    }
}

/// `text`, cut to [`MAX_ERROR_LEN`] bytes on a character boundary.
pub(super) fn truncate(mut text: String) -> String {
    if text.len() > MAX_ERROR_LEN {
        let mut cut = MAX_ERROR_LEN;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}
