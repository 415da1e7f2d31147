//! The recent store calls of each actor, with what they answered and the record they
//! left, kept only when asked for ([`FaultyStore::trace_calls`]): what a failing seed
//! needs to be understood, as its interleaving does not replay under real threads.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::{lock, FaultyStore};
use crate::id::Address;
use crate::store::Store;

/// How many of an actor's calls are kept: enough to see the drains before a failure.
const KEPT_PER_ACTOR: usize = 80;

/// The environment variable that turns the trace on for every [`FaultWorld`](crate::testing::FaultWorld).
pub(crate) const TRACE_VARIABLE: &str = "MQLESS_TRACE_CALLS";

#[derive(Default)]
pub(super) struct CallTrace {
    on: AtomicBool,
    calls: Mutex<BTreeMap<Address, VecDeque<String>>>,
}

impl CallTrace {
    fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    fn push(&self, address: &Address, line: String) {
        let mut calls = lock(&self.calls);
        let kept = calls.entry(address.clone()).or_default();
        if kept.len() == KEPT_PER_ACTOR {
            kept.pop_front();
        }
        kept.push_back(line);
    }
}

impl<S: Store> FaultyStore<S> {
    /// Keeps (or stops keeping) each actor's last 80 store calls, what they answered and
    /// the record they left, and the drains around them ([`FaultyStore::calls_of`]).
    /// Costs a formatted line per call: off by default; `MQLESS_TRACE_CALLS=1` turns it
    /// on for every `FaultWorld`, whose failures then quote the actor's calls.
    pub fn trace_calls(&self, on: bool) {
        self.trace.on.store(on, Ordering::Relaxed);
    }

    /// Whether [`FaultyStore::trace_calls`] is on.
    pub fn traces_calls(&self) -> bool {
        self.trace.is_on()
    }

    /// The last calls kept for `address`, oldest first (none unless
    /// [`FaultyStore::trace_calls`] is on).
    pub fn calls_of(&self, address: &Address) -> Vec<String> {
        lock(&self.trace.calls)
            .get(address)
            .map(|kept| kept.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Notes an event about `address` beside its calls (a drain that starts or ends).
    pub fn note(&self, address: &Address, event: impl FnOnce() -> String) {
        if self.trace.is_on() {
            self.trace.push(address, event());
        }
    }

    /// Records call `call` on `address`, which answered `answer`, with the record it left
    /// (read from the store underneath, unfaulted).
    pub(super) async fn traced(&self, address: &Address, call: impl FnOnce() -> String) {
        if !self.trace.is_on() {
            return;
        }
        let record = match self.inner.load_state(address).await {
            Ok(Some(r)) => format!(
                "version {} epoch {} lease {} stalls {} mark {:?} knocked {}",
                r.version, r.epoch, r.lease_expires_at, r.stalled_leases, r.mark, r.knocked
            ),
            Ok(None) => "no record".to_owned(),
            Err(error) => format!("record unreadable: {error}"),
        };
        self.trace.push(address, format!("{} [{record}]", call()));
    }
}
