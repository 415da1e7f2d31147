//! Shared helpers of the behaviour tests.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Detects two messages of one actor in flight at once: a handler calls [`enter`] on
/// arrival and [`leave`] before returning; [`enter`] counts an overlap if the actor was
/// already inside a handler.
#[derive(Default)]
pub struct InFlight {
    inside: Mutex<HashMap<String, usize>>,
    overlaps: Mutex<u64>,
}

impl InFlight {
    /// Marks actor `id` as running a handler.
    pub fn enter(&self, id: &str) {
        let mut inside = self.inside.lock().unwrap_or_else(PoisonError::into_inner);
        let count = inside.entry(id.to_owned()).or_default();
        if *count > 0 {
            *self.overlaps.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        }
        *count += 1;
    }

    /// Marks actor `id`'s handler as done.
    pub fn leave(&self, id: &str) {
        let mut inside = self.inside.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = inside.get_mut(id) {
            *count -= 1;
        }
    }

    /// Overlaps seen so far.
    pub fn overlaps(&self) -> u64 {
        *self.overlaps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The exactly-once, in-order, one-at-a-time scenario, on any store.
pub mod ledger {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, LazyLock};

    use mqless::{ActorId, Context, Embedded};
    use serde::{Deserialize, Serialize};

    use super::InFlight;

    static IN_FLIGHT: LazyLock<InFlight> = LazyLock::new(InFlight::default);

    /// Records, per sender, how many messages it applied and whether they came in order.
    #[derive(Debug, Default, Serialize, Deserialize)]
    pub struct Ledger {
        last_seq: BTreeMap<u32, u32>,
        applied: BTreeMap<u32, u32>,
        out_of_order: u64,
    }

    #[mqless::actor]
    impl Ledger {
        /// Applies message `seq` of `sender`.
        pub async fn record(&mut self, sender: u32, seq: u32, ctx: &mut Context) {
            let id = ctx.id().to_string();
            IN_FLIGHT.enter(&id);
            // Give another drain of the same actor every chance to run meanwhile.
            tokio::task::yield_now().await;
            if self.last_seq.get(&sender).is_some_and(|last| *last >= seq) {
                self.out_of_order += 1;
            }
            self.last_seq.insert(sender, seq);
            *self.applied.entry(sender).or_default() += 1;
            IN_FLIGHT.leave(&id);
        }
    }

    /// The size of a run.
    #[derive(Debug, Clone, Copy)]
    pub struct Scenario {
        /// Concurrent senders.
        pub senders: u32,
        /// Messages each sender sends, spread over the actors.
        pub messages_per_sender: u32,
        /// Actors.
        pub actors: u32,
        /// Extra drains racing the runtime's own, on every actor, for the whole run.
        pub rogue_drainers: u32,
    }

    /// Runs `scenario` on `runtime` (which must have [`Ledger`] registered) and asserts
    /// the invariants: every message applied exactly once, each sender's messages in
    /// order, never two messages of one actor in flight at once.
    pub async fn run(runtime: Arc<Embedded>, scenario: Scenario) {
        let host = Arc::new(runtime.host::<Ledger>().unwrap());
        let done = Arc::new(AtomicBool::new(false));
        let actor_id = |a: u32| ActorId::new(format!("ledger-{a}")).unwrap();

        let mut rogues = Vec::new();
        for r in 0..scenario.rogue_drainers {
            let (host, done) = (host.clone(), done.clone());
            rogues.push(tokio::spawn(async move {
                let mut ends = BTreeMap::<String, u64>::new();
                while !done.load(Ordering::Relaxed) {
                    let report = host.drain(&actor_id(r % scenario.actors)).await.unwrap();
                    *ends.entry(format!("{:?}", report.end)).or_default() += 1;
                    tokio::task::yield_now().await;
                }
                ends
            }));
        }

        let mut senders = Vec::new();
        for sender in 0..scenario.senders {
            let runtime = runtime.clone();
            senders.push(tokio::spawn(async move {
                for seq in 0..scenario.messages_per_sender {
                    let to = format!("ledger-{}", (sender + seq) % scenario.actors);
                    runtime
                        .client::<Ledger>(to)
                        .unwrap()
                        .record(sender, seq)
                        .send()
                        .await
                        .unwrap();
                }
            }));
        }
        for sender in senders {
            sender.await.unwrap();
        }
        runtime.idle().await;
        done.store(true, Ordering::Relaxed);
        let mut ends = BTreeMap::<String, u64>::new();
        for rogue in rogues {
            for (end, n) in rogue.await.unwrap() {
                *ends.entry(end).or_default() += n;
            }
        }
        // A rogue drain may have made the runtime's own drain end `Busy` and then stopped:
        // drain each actor once more so nothing is left behind.
        for a in 0..scenario.actors {
            host.drain(&actor_id(a)).await.unwrap();
        }

        let mut applied = BTreeMap::<u32, u32>::new();
        let mut out_of_order = 0;
        for a in 0..scenario.actors {
            let ledger = runtime
                .state::<Ledger>(format!("ledger-{a}"))
                .await
                .unwrap()
                .unwrap();
            out_of_order += ledger.out_of_order;
            for (sender, n) in ledger.applied {
                *applied.entry(sender).or_default() += n;
            }
        }
        println!("rogue drain outcomes: {ends:?}");
        assert_eq!(applied.len() as u32, scenario.senders);
        for (sender, n) in &applied {
            assert_eq!(
                *n, scenario.messages_per_sender,
                "sender {sender}: every message applied exactly once"
            );
        }
        assert_eq!(
            out_of_order, 0,
            "each sender's messages are applied in the order sent"
        );
        assert_eq!(
            IN_FLIGHT.overlaps(),
            0,
            "never two messages of one actor in flight at once"
        );
    }
}

/// Connections to the local AWS stack that `scripts/test` starts.
pub mod local_aws {
    use mqless::aws::DynamoStore;

    /// The value of `name`, or a panic that says how to run these tests.
    #[must_use]
    pub fn env(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the end-to-end tests with `scripts/test`, which starts DynamoDB Local and the Lambda emulator")
        })
    }

    /// Points the AWS SDK at the local stack with dummy credentials.
    pub fn configure() {
        let dynamodb = env("MQLESS_TEST_DYNAMODB_ENDPOINT");
        // SAFETY-free: tests set these before any SDK client reads them, and every test
        // sets the same values.
        for (key, value) in [
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.as_str()),
            ("AWS_ACCESS_KEY_ID", "mqlesstest"),
            ("AWS_SECRET_ACCESS_KEY", "mqlesstest"),
            ("AWS_REGION", "us-east-1"),
        ] {
            if std::env::var(key).as_deref() != Ok(value) {
                // Edition 2021: `set_var` is safe; all tests write identical values.
                std::env::set_var(key, value);
            }
        }
    }

    /// A store over a new table of its own, so tests do not see each other's actors.
    pub async fn fresh_store(test: &str) -> DynamoStore {
        configure();
        let table = format!("{test}-{}", mqless::MessageId::generate(1, None));
        let store = DynamoStore::from_env(table).await;
        store
            .create_table()
            .await
            .expect("create the test table on DynamoDB Local");
        store
    }
}

/// Faults injected through the store trait, over the in-memory store.
pub mod faults {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Mutex, PoisonError};

    use mqless::store::memory::MemoryStore;
    use mqless::store::{
        BoxFuture, Cleanup, Commit, CommitOutcome, DeadLetter, MailboxItem, StateRecord, Store,
    };
    use mqless::{Address, MessageId, StoreError, StoreErrorKind};

    /// A [`MemoryStore`] with injectable faults.
    #[derive(Default)]
    pub struct FaultyStore {
        /// The store underneath, for inspecting what was written.
        pub inner: MemoryStore,
        before_release: Mutex<Option<(Address, MailboxItem)>>,
        failing_cleanups: AtomicU32,
        random: Mutex<Option<RandomFaults>>,
        /// Faults injected so far: (before the effect, after it).
        pub injected: Mutex<(u64, u64)>,
    }

    /// Seeded random faults: each store call fails with probability `per_mille / 1000`,
    /// half before its effect (a crash before the write) and half after (an ambiguous
    /// write: applied, but the caller sees an error).
    struct RandomFaults {
        state: u64,
        per_mille: u64,
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Fault {
        Before,
        After,
    }

    fn injected_error(when: &str) -> StoreError {
        StoreError::new(
            StoreErrorKind::Unavailable,
            format!("injected fault {when} the write"),
        )
    }

    impl FaultyStore {
        /// A store with no faults armed.
        #[must_use]
        pub fn new() -> Self {
            Self::default()
        }

        /// Slips `item` into `to`'s mailbox just before the next release of a lease (by
        /// `release` or by a releasing commit): the window in which a sender's nudge finds
        /// the lease still held.
        pub fn enqueue_before_next_release(&self, to: Address, item: MailboxItem) {
            *self
                .before_release
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some((to, item));
        }

        /// Whether the message armed by [`Self::enqueue_before_next_release`] went in.
        pub fn slipped(&self) -> bool {
            self.before_release
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none()
        }

        /// Makes the next `n` cleanups fail, as if their owner crashed right after its commit.
        pub fn fail_cleanups(&self, n: u32) {
            self.failing_cleanups.store(n, Ordering::SeqCst);
        }

        /// Arms seeded random faults on every mailbox and lease operation.
        pub fn random_faults(&self, seed: u64, per_mille: u64) {
            *self.random.lock().unwrap_or_else(PoisonError::into_inner) = Some(RandomFaults {
                state: seed,
                per_mille,
            });
        }

        /// Disarms the random faults.
        pub fn stop_random_faults(&self) {
            *self.random.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }

        fn roll(&self) -> Option<Fault> {
            let mut random = self.random.lock().unwrap_or_else(PoisonError::into_inner);
            let faults = random.as_mut()?;
            faults.state = faults.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = faults.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let z = (z ^ (z >> 31)) % 2000;
            let fault = if z < faults.per_mille {
                Fault::Before
            } else if z < 2 * faults.per_mille {
                Fault::After
            } else {
                return None;
            };
            let mut injected = self.injected.lock().unwrap_or_else(PoisonError::into_inner);
            match fault {
                Fault::Before => injected.0 += 1,
                Fault::After => injected.1 += 1,
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
                Some(Fault::Before) => Box::pin(async { Err(injected_error("before")) }),
                Some(Fault::After) => {
                    let applied = op();
                    Box::pin(async move {
                        applied.await?;
                        Err(injected_error("after"))
                    })
                }
                None => op(),
            }
        }

        async fn releasing(&self) {
            let armed = self
                .before_release
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some((to, item)) = armed {
                self.inner.enqueue(&to, &item).await.unwrap();
            }
        }
    }

    impl Store for FaultyStore {
        fn enqueue<'a>(
            &'a self,
            to: &'a Address,
            item: &'a MailboxItem,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            self.faulty(move || self.inner.enqueue(to, item))
        }
        fn acquire<'a>(
            &'a self,
            a: &'a Address,
            now: u64,
            until: u64,
        ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
            self.faulty(move || self.inner.acquire(a, now, until))
        }
        fn read_mailbox<'a>(
            &'a self,
            a: &'a Address,
            limit: usize,
        ) -> BoxFuture<'a, Result<Vec<MailboxItem>, StoreError>> {
            self.faulty(move || self.inner.read_mailbox(a, limit))
        }
        fn commit<'a>(
            &'a self,
            a: &'a Address,
            commit: &'a Commit,
        ) -> BoxFuture<'a, Result<CommitOutcome, StoreError>> {
            Box::pin(async move {
                if commit.lease_expires_at == 0 {
                    self.releasing().await;
                }
                self.faulty(move || self.inner.commit(a, commit)).await
            })
        }
        fn release<'a>(
            &'a self,
            a: &'a Address,
            epoch: u64,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async move {
                self.releasing().await;
                self.faulty(move || self.inner.release(a, epoch)).await
            })
        }
        fn cleanup<'a>(
            &'a self,
            a: &'a Address,
            cleanup: Cleanup<'a>,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            let fail = self
                .failing_cleanups
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if fail {
                return Box::pin(async {
                    Err(StoreError::new(
                        StoreErrorKind::Unavailable,
                        "injected crash before cleanup",
                    ))
                });
            }
            self.faulty(move || self.inner.cleanup(a, cleanup))
        }
        fn get_reply<'a>(
            &'a self,
            a: &'a Address,
            id: MessageId,
        ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
            self.inner.get_reply(a, id)
        }
        fn load_state<'a>(
            &'a self,
            a: &'a Address,
        ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
            self.inner.load_state(a)
        }
        fn dead_letters<'a>(
            &'a self,
            a: &'a Address,
        ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>> {
            self.inner.dead_letters(a)
        }
    }
}

/// Runs the bank on `actors` and asserts its invariants: money conserved, no balance ever
/// negative, and transfers (actor-to-actor messages) exercised.
pub async fn assert_bank_holds<S: mqless::Actors>(
    actors: std::sync::Arc<S>,
    config: mqless_examples::bank::BankConfig,
) {
    let report = mqless_examples::bank::run(actors, config).await.unwrap();
    println!("{report:?}");
    assert_eq!(
        report.expected_total, report.actual_total,
        "money is conserved: {report:?}"
    );
    assert!(
        report.lowest_balance >= 0,
        "no balance went negative: {report:?}"
    );
    assert!(report.succeeded[2] > 0, "transfers happened: {report:?}");
}
