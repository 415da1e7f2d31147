//! The scenario's deterministic faults and how recovery settles them: a corrupted state
//! (the actor is quarantined, then repaired through the API), and the dead letters by
//! what they hold.

use std::collections::{BTreeMap, BTreeSet};

use mqless::id::Address;
use mqless::recovery::DeadLetter;
use mqless::store::{Commit, Store};
use mqless::testing::{FaultWorld, LetterFate};

use super::log::{relayed_sender, Log, LogMessage};
use super::{Stats, LEASE};

/// Overwrites the committed state of `address` with bytes that do not decode, under a
/// lease of its own (so no owner commits meanwhile), keeping the bookkeeping; returns
/// the state it replaced. `None` when a live owner holds the lease.
pub(super) async fn corrupt_state<S: Store>(
    store: &S,
    address: &mqless::id::Address,
    now: u64,
) -> Option<Log> {
    let until = now + LEASE.as_millis() as u64;
    let record = store
        .acquire(address, now, until, 0xBAD)
        .await
        .unwrap()
        .taken()?;
    let original = match &record.state {
        Some(bytes) => mqless::wire::decode(bytes, "state", usize::MAX, 64).unwrap(),
        None => Log::default(),
    };
    let commit = Commit {
        epoch: record.epoch,
        expected_version: record.version,
        state: vec![0xc1],
        // An empty map: the bookkeeping's defaults.
        meta: record.meta.unwrap_or_else(|| vec![0x80]),
        lease_expires_at: 0,
        outgoing: Vec::new(),
        continued: None,
        expires_at: None,
        mark: None,
        subscriptions: Vec::new(),
    };
    let outcome = store.commit(address, &commit).await.unwrap();
    assert!(outcome.landed());
    Some(original)
}

/// Repairs this seed's quarantined actors with the states they held before their
/// corruption; whether any was. An actor quarantined for another reason fails the seed.
pub(super) async fn repair_quarantined<S: Store>(
    world: &mut FaultWorld<S>,
    names: &[String],
    repairs: &mut BTreeMap<String, Log>,
    quarantined: &mut u64,
) -> Result<bool, String> {
    let mut repaired = false;
    for found in world
        .clients()
        .quarantined::<Log>()
        .await
        .map_err(|e| e.to_string())?
    {
        let name = found.id.as_str();
        if !names.iter().any(|n| n == name) {
            continue; // another seed's actor on a shared table
        }
        let original = repairs
            .remove(name)
            .ok_or_else(|| format!("{name} quarantined for no injected cause: {}", found.reason))?;
        if !found.reason.contains("does not decode") {
            return Err(format!("{name} quarantined: {}", found.reason));
        }
        let quarantine = world
            .clients()
            .quarantine::<Log>(name)
            .map_err(|e| e.to_string())?;
        quarantine
            .replace_state(&original)
            .await
            .map_err(|e| e.to_string())?;
        *quarantined += 1;
        repaired = true;
    }
    Ok(repaired)
}

/// What recovery did with the dead letters, by what they held.
#[derive(Default)]
pub(super) struct Letters {
    redriven_keys: BTreeSet<(u32, u32)>,
    /// The emissions a channel refused for good, whose dead letters were redriven.
    redriven_emissions: BTreeSet<mqless::MessageId>,
    poison_dead: bool,
    malformed: u64,
    redriven: u64,
    refused_redriven: u64,
    asks_redriven: u64,
}

impl Letters {
    /// The fate of a dead letter of actor `address` (one of `names`): an undecodable
    /// one (the malformed item) and the poison message are discarded; anything else was
    /// dead-lettered because owners stalled on it or its commit was refused for size,
    /// and is redriven (each ask is still answered once, whatever runs when).
    pub(super) fn fate(
        &mut self,
        names: &[String],
        address: &Address,
        letter: &DeadLetter,
    ) -> Result<LetterFate, String> {
        let Some(a) = names.iter().position(|n| n == address.id().as_str()) else {
            return Ok(LetterFate::Keep);
        };
        let emission = letter.envelope().is_ok_and(|e| e.emission.is_some());
        if emission || letter.kind == mqless::recovery::DeadLetterKind::Undeliverable {
            // Its channel refused the emission (the permission is there now), or its
            // redrive stalled: redriven (again).
            self.redriven_emissions.insert(letter.id);
            return Ok(LetterFate::Redrive);
        }
        let refused = letter.error.contains("commit was refused");
        match letter.message::<Log>() {
            // The malformed item: dead-lettered as undecodable when a drain reached it,
            // or as a stall when owners were killed or hung with it next (on a loaded
            // machine more hang past the scenario's 5 ms; seed 1741 once so).
            Err(_)
                if letter.error.contains("undecodable")
                    || letter.envelope == super::MALFORMED_ENVELOPE =>
            {
                self.malformed += 1;
                Ok(LetterFate::Discard)
            }
            Err(_) => Err(format!("an unexpected dead letter: {}", letter.error)),
            Ok(LogMessage::Poison {}) => {
                self.poison_dead = true;
                Ok(LetterFate::Discard)
            }
            Ok(LogMessage::Ask { .. } | LogMessage::Echo { .. } | LogMessage::Answered { .. }) => {
                if refused {
                    self.refused_redriven += 1;
                } else {
                    self.asks_redriven += 1;
                }
                Ok(LetterFate::Redrive)
            }
            Ok(LogMessage::Record { sender, seq, .. }) => {
                self.redriven_keys.insert((sender, seq));
                // Its relay goes out when it finally runs: late too.
                self.redriven_keys
                    .insert((relayed_sender(sender, a as u64), seq));
                if refused {
                    self.refused_redriven += 1;
                } else {
                    self.redriven += 1;
                }
                Ok(LetterFate::Redrive)
            }
        }
    }

    /// Adds the counts to `stats`; the redriven messages' keys, and the redriven
    /// emissions' ids.
    pub(super) fn add_to(
        self,
        stats: &mut Stats,
    ) -> (BTreeSet<(u32, u32)>, BTreeSet<mqless::MessageId>) {
        stats.poison.1 += u64::from(self.poison_dead);
        stats.malformed.1 += self.malformed;
        stats.redriven += self.redriven;
        stats.refused_redriven += self.refused_redriven;
        stats.asks.redriven += self.asks_redriven;
        stats.emissions_redriven += self.redriven_emissions.len() as u64;
        (self.redriven_keys, self.redriven_emissions)
    }
}
