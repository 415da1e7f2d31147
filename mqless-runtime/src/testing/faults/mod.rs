//! Faults injected through the store: seeded crashes before and after each store call
//! (an ambiguous write), throttling, targeted failures, and a due index that lags,
//! repeats and goes stale. Wrap any [`Store`]. Wake-ups and clocks are disturbed by
//! their own wrappers (`faulty_invoker.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::error::{StoreError, StoreErrorKind};
use crate::id::Address;
use crate::store::due::DueEntry;
use crate::store::memory::MemoryStore;
use crate::store::{MailboxItem, Store};
use crate::BoxFuture;

use super::pause::{Pause, PausePoint, Pauses};

mod calls;
mod trace;

use trace::CallTrace;
pub(crate) use trace::TRACE_VARIABLE;

/// A seeded generator (SplitMix64): the same seed gives the same faults.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Faults injected into store calls so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoreFaults {
    /// Calls that failed before their effect: a crash, or throttling.
    pub before: u64,
    /// Of those, the ones reported as throttling.
    pub throttled: u64,
    /// Calls that took effect but reported an error (an ambiguous write).
    pub after: u64,
    /// Commits refused by [`FaultyStore::refuse_states_over`]: deterministic faults.
    pub refused_commits: u64,
    /// Due-index entries a sweep did not see (DynamoDB's index lags its table).
    pub index_lagged: u64,
    /// Due-index entries a sweep saw twice.
    pub index_duplicated: u64,
    /// Due-index entries a sweep saw after their item was gone (a stale index).
    pub index_stale: u64,
}

/// A store with injectable faults over `S` (the in-memory store by default).
#[derive(Default)]
pub struct FaultyStore<S = MemoryStore> {
    /// The store underneath, for inspecting what was written.
    pub inner: S,
    before_release: Mutex<Option<(Address, MailboxItem)>>,
    failing_cleanups: AtomicU32,
    failing_reads: AtomicU32,
    failing_read_kind: Mutex<Option<StoreErrorKind>>,
    lost_acquire_answers: AtomicU32,
    lost_commit_answers: AtomicU32,
    state_limit: AtomicUsize,
    random: Mutex<Option<(Rng, u64)>>,
    injected: Mutex<StoreFaults>,
    pauses: Pauses,
    /// Due-index entries seen by earlier sweeps: replayed as stale ones.
    seen_entries: Mutex<Vec<(u16, DueEntry)>>,
    /// Each actor's last mark for the sweep that failed before it was written, numbered
    /// from one.
    unmarked: Mutex<(u64, BTreeMap<Address, u64>)>,
    /// Every actor a commit sent to (landed or not): a drain killed after its commit
    /// may have lost their wake-ups, though nothing else ever touched them.
    recipients: Mutex<BTreeSet<Address>>,
    trace: CallTrace,
}

/// Counts `counter` down by one; whether it was above zero.
fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    Before(StoreErrorKind),
    After,
}

impl FaultyStore {
    /// An in-memory store with no faults armed.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S: Store> FaultyStore<S> {
    /// Faults over `inner`, none armed.
    pub fn over(inner: S) -> Self {
        Self {
            inner,
            before_release: Mutex::default(),
            failing_cleanups: AtomicU32::default(),
            failing_reads: AtomicU32::default(),
            failing_read_kind: Mutex::default(),
            lost_acquire_answers: AtomicU32::default(),
            lost_commit_answers: AtomicU32::default(),
            state_limit: AtomicUsize::default(),
            random: Mutex::default(),
            injected: Mutex::default(),
            pauses: Pauses::default(),
            seen_entries: Mutex::default(),
            unmarked: Mutex::default(),
            recipients: Mutex::default(),
            trace: CallTrace::default(),
        }
    }

    /// Every actor a commit sent a message to so far (whether the commit landed or not).
    pub fn commit_recipients(&self) -> BTreeSet<Address> {
        lock(&self.recipients).clone()
    }

    /// The actors whose mark for the sweep (after a wake-up failed) failed in turn,
    /// before it was written, since their last drain that read their whole mailbox: like
    /// a dropped nudge, only the audit finds what they hold.
    pub fn unmarked(&self) -> BTreeSet<Address> {
        lock(&self.unmarked).1.keys().cloned().collect()
    }

    /// Records that a mark of `address` for the sweep failed before it was written.
    fn record_unmarked(&self, address: &Address) {
        let mut unmarked = lock(&self.unmarked);
        unmarked.0 += 1;
        let failed = unmarked.0;
        unmarked.1.insert(address.clone(), failed);
    }

    /// How many marks failed so far (see [`FaultyInvoker::drops`](crate::testing::FaultyInvoker::drops)).
    pub fn failed_marks(&self) -> u64 {
        lock(&self.unmarked).0
    }

    /// Forgets the failed marks of `address` before a drain that began when
    /// [`Self::failed_marks`] said `failed` (see [`FaultyInvoker::forget_dropped`](crate::testing::FaultyInvoker::forget_dropped)).
    pub fn forget_unmarked(&self, address: &Address, failed: u64) {
        let mut unmarked = lock(&self.unmarked);
        if unmarked.1.get(address).is_some_and(|last| *last <= failed) {
            unmarked.1.remove(address);
        }
    }

    /// Slips `item` into `to`'s mailbox just before the next release of a lease (by
    /// `release` or by a releasing commit): the window in which a sender's nudge finds
    /// the lease still held, and knocks (see [`Store::knock`]).
    pub fn enqueue_before_next_release(&self, to: Address, item: MailboxItem) {
        *lock(&self.before_release) = Some((to, item));
    }

    /// Whether the message armed by [`Self::enqueue_before_next_release`] went in.
    pub fn slipped(&self) -> bool {
        lock(&self.before_release).is_none()
    }

    /// Makes the next owner of `address` stop at `point` (after letting `skip` such calls
    /// through), until the returned [`Pause`] is resumed: a zombie in the making. One
    /// pause is armed at a time.
    pub fn pause(&self, address: Address, point: PausePoint, skip: u32) -> Pause {
        self.pauses.arm(address, point, skip)
    }

    /// Disarms a pause no owner reached.
    pub fn disarm_pause(&self) {
        self.pauses.disarm();
    }

    /// Makes the next `n` cleanups fail, as if their owner crashed right after its commit.
    pub fn fail_cleanups(&self, n: u32) {
        self.failing_cleanups.store(n, Ordering::SeqCst);
    }

    /// A deterministic fault: refuses every commit whose state is over `bytes` as over
    /// the item-size limit, as DynamoDB refuses a record over 400 KB, until called with
    /// `None`. Models a commit that can never land as it is.
    pub fn refuse_states_over(&self, bytes: Option<usize>) {
        self.state_limit.store(bytes.unwrap_or(0), Ordering::SeqCst);
    }

    /// Makes the next `n` acquires take the lease, then fail as if their answer was lost
    /// (a timeout after DynamoDB applied the write).
    pub fn lose_acquire_answers(&self, n: u32) {
        self.lost_acquire_answers.store(n, Ordering::SeqCst);
    }

    /// Makes the next `n` commits land, then fail as if their answer was lost: the
    /// state, its sends and its cleanup are written, and the drain sees an error.
    pub fn lose_commit_answers(&self, n: u32) {
        self.lost_commit_answers.store(n, Ordering::SeqCst);
    }

    /// Makes the next `n` mailbox reads fail, as a store error in the middle of a drain.
    pub fn fail_reads(&self, n: u32) {
        self.fail_reads_with(n, StoreErrorKind::Unavailable);
    }

    /// Makes the next `n` mailbox reads fail with an error of `kind`: a deterministic
    /// one (`Other`: a permission missing, say) as well as a transient one.
    pub fn fail_reads_with(&self, n: u32, kind: StoreErrorKind) {
        *lock(&self.failing_read_kind) = Some(kind);
        self.failing_reads.store(n, Ordering::SeqCst);
    }

    /// Arms seeded random faults on every mailbox, lease and dead-letter write: each
    /// call fails with probability `per_mille / 1000` before its effect (a crash, or,
    /// every third time, throttling), and as often after it (an ambiguous write).
    pub fn random_faults(&self, seed: u64, per_mille: u64) {
        *lock(&self.random) = Some((Rng(seed), per_mille));
    }

    /// Disarms the random faults.
    pub fn stop_random_faults(&self) {
        *lock(&self.random) = None;
    }

    /// The faults injected so far.
    pub fn injected(&self) -> StoreFaults {
        *lock(&self.injected)
    }

    /// Disturbs a page of the due index as DynamoDB's eventually consistent index can,
    /// while random faults are armed: an entry not there yet (lagging), one seen twice,
    /// and one whose item is gone (stale, replayed from an earlier page of the shard).
    fn disturb_due_page(&self, shard: u16, after: Option<&str>, page: &mut Vec<DueEntry>) {
        let mut random = lock(&self.random);
        let Some((rng, per_mille)) = random.as_mut() else {
            return;
        };
        let mut injected = lock(&self.injected);
        let mut seen = lock(&self.seen_entries);
        seen.extend(page.iter().map(|entry| (shard, entry.clone())));
        let len = seen.len();
        if len > 256 {
            seen.drain(..len - 256);
        }
        let mut disturbed = Vec::with_capacity(page.len() + 2);
        for entry in page.drain(..) {
            let z = rng.below(1000);
            if z < *per_mille {
                injected.index_lagged += 1;
                continue;
            }
            if z < 2 * *per_mille {
                injected.index_duplicated += 1;
                disturbed.push(entry.clone());
            }
            disturbed.push(entry);
        }
        if rng.below(1000) < *per_mille && !seen.is_empty() {
            let pick = usize::try_from(rng.below(seen.len() as u64)).unwrap_or(0);
            let (from, stale) = &seen[pick];
            if *from == shard && after.is_none_or(|after| stale.key.as_str() > after) {
                injected.index_stale += 1;
                disturbed.push(stale.clone());
            }
        }
        disturbed.sort_by(|a, b| a.key.cmp(&b.key));
        *page = disturbed;
    }

    /// Whether this owner reads its mailbox before its acquire's write: the earliest a
    /// store may (after the record read the acquire decides on; DynamoDB reads beside
    /// the write; see `Store::acquire_and_read`). Half the time under random faults,
    /// never when a pause is armed for `address` (a zombie stops between the two).
    pub(super) fn read_early(&self, address: &Address) -> bool {
        if self.pauses.armed_for(address) {
            return false;
        }
        lock(&self.random)
            .as_mut()
            .is_some_and(|(rng, _)| rng.below(2) == 0)
    }

    fn roll(&self) -> Option<Fault> {
        let mut random = lock(&self.random);
        let (rng, per_mille) = random.as_mut()?;
        let z = rng.below(2000);
        let fault = if z < *per_mille {
            Fault::Before(if z % 3 == 0 {
                StoreErrorKind::Throttled
            } else {
                StoreErrorKind::Unavailable
            })
        } else if z < 2 * *per_mille {
            Fault::After
        } else {
            return None;
        };
        let mut injected = lock(&self.injected);
        match fault {
            Fault::Before(StoreErrorKind::Throttled) => {
                injected.before += 1;
                injected.throttled += 1;
            }
            Fault::Before(_) => injected.before += 1,
            Fault::After => injected.after += 1,
        }
        Some(fault)
    }

    /// Runs `op` under a random fault: not at all, or with its result replaced by an
    /// error. Memory-store calls take effect when called, so "before" must not call.
    fn faulty<'a, T: Send + 'a>(
        &'a self,
        op: impl FnOnce() -> BoxFuture<'a, Result<T, StoreError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        match self.roll() {
            Some(Fault::Before(kind)) => {
                Box::pin(
                    async move { Err(StoreError::new(kind, "injected fault before the write")) },
                )
            }
            Some(Fault::After) => {
                let applied = op();
                Box::pin(async move {
                    applied.await?;
                    Err(StoreError::new(
                        StoreErrorKind::Unavailable,
                        "injected fault after the write",
                    ))
                })
            }
            None => op(),
        }
    }

    /// Pauses at `point` if armed, then fails with `fail` (a targeted failure) or runs
    /// `op` under the random faults.
    fn paused_then<'a, T: Send + 'a>(
        &'a self,
        address: &'a Address,
        point: PausePoint,
        fail: Option<(StoreErrorKind, &'static str)>,
        op: impl FnOnce() -> BoxFuture<'a, Result<T, StoreError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        Box::pin(async move {
            self.pauses.at(address, point).await;
            match fail {
                Some((kind, message)) => Err(StoreError::new(kind, message)),
                None => self.faulty(op).await,
            }
        })
    }

    async fn releasing(&self) -> Result<(), StoreError> {
        let armed = lock(&self.before_release).take();
        if let Some((to, item)) = armed {
            self.inner.enqueue(&to, &item).await?;
            // Its sender's wake-up finds the lease held, and knocks on the record as it
            // is (marked for the lease's end, as a wake-up marks it).
            let record = self.inner.load_state(&to).await?.unwrap_or_default();
            let at = record.lease_expires_at.max(1);
            self.inner
                .knock(&to, record.version, record.mark, at)
                .await?;
        }
        Ok(())
    }
}

impl std::ops::AddAssign for StoreFaults {
    fn add_assign(&mut self, other: Self) {
        self.before += other.before;
        self.throttled += other.throttled;
        self.after += other.after;
        self.refused_commits += other.refused_commits;
        self.index_lagged += other.index_lagged;
        self.index_duplicated += other.index_duplicated;
        self.index_stale += other.index_stale;
    }
}
