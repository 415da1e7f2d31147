//! Deterministic failures of an actor's own record, on any store: a state that no longer
//! decodes after a redeploy, corrupt bookkeeping, and a commit that cannot fit
//! DynamoDB's limits. None may wedge the actor: a message at fault is dead-lettered, a
//! record at fault quarantines the actor (its messages kept) until an operator lifts it.

use std::sync::Arc;
use std::time::Duration;

use mqless::mailbox::{DrainConfig, DrainEnd, DrainReport};
use mqless::recovery::StateFix;
use mqless::store::{Commit, Store};
use mqless::testing::RecordingInvoker;
use mqless::{ActorId, AskError, Embedded, Error, Limits};
use serde::{Deserialize, Serialize};

/// A profile as first deployed.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProfileV1 {
    /// The name.
    pub name: String,
}

/// The same actor type redeployed with a new field and no default for it: a breaking
/// change, as the old state has no `age`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProfileV2 {
    /// The name.
    pub name: String,
    /// The age.
    pub age: u32,
}

/// The fix: the new field defaults, so the old state decodes again.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProfileV3 {
    /// The name.
    pub name: String,
    /// The age; 0 in state written before it existed.
    #[serde(default)]
    pub age: u32,
}

#[mqless::actor(name = "Profile")]
impl ProfileV1 {
    /// Renames.
    pub fn rename(&mut self, name: String) {
        self.name = name;
    }
}

#[mqless::actor(name = "Profile")]
impl ProfileV2 {
    /// Renames.
    pub fn rename(&mut self, name: String) {
        self.name = name;
    }
    /// One year older; returns the new age.
    pub fn birthday(&mut self) -> u32 {
        self.age += 1;
        self.age
    }
}

#[mqless::actor(name = "Profile")]
impl ProfileV3 {
    /// Renames.
    pub fn rename(&mut self, name: String) {
        self.name = name;
    }
    /// One year older; returns the new age.
    pub fn birthday(&mut self) -> u32 {
        self.age += 1;
        self.age
    }
}

/// An embedded runtime over `store` whose drains the test runs by hand.
pub fn manual(store: &Arc<dyn Store>, config: DrainConfig) -> Embedded {
    Embedded::builder()
        .store(Arc::clone(store))
        .config(config)
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build()
}

/// A fresh actor id, unique across runs on a shared table.
pub fn fresh_id(prefix: &str) -> String {
    format!("{prefix}-{}", mqless::MessageId::generate(1, None))
}

fn address(actor_type: &str, id: &str) -> mqless::id::Address {
    mqless::id::Address::new(
        mqless::id::ActorType::new(actor_type).unwrap(),
        ActorId::new(id).unwrap(),
    )
}

async fn drain<A: mqless::Actor>(runtime: &Embedded, id: &str) -> DrainReport {
    runtime
        .host::<A>()
        .unwrap()
        .drain(&ActorId::new(id).unwrap())
        .await
        .expect("a deterministic failure is not a drain error")
}

/// A redeploy whose state no longer decodes quarantines the actor, keeps its messages,
/// answers a waiting ask with the reason, lists it; deploying the fix and retrying
/// drains everything in order.
pub async fn a_state_that_no_longer_decodes_quarantines_the_actor(store: Arc<dyn Store>) {
    let id = fresh_id("profile");
    let v1 = manual(&store, DrainConfig::default());
    v1.register::<ProfileV1>().unwrap();
    v1.client::<ProfileV1>(&id)
        .unwrap()
        .rename("Ada".into())
        .send()
        .await
        .unwrap();
    assert_eq!(drain::<ProfileV1>(&v1, &id).await.processed, 1);

    // Redeployed with a breaking change.
    let v2 = manual(&store, DrainConfig::default());
    v2.register::<ProfileV2>().unwrap();
    let profile = v2.client::<ProfileV2>(&id).unwrap();
    profile.rename("Ada L.".into()).send().await.unwrap();
    profile.birthday().send().await.unwrap();
    for _ in 0..3 {
        let report = drain::<ProfileV2>(&v2, &id).await;
        assert_eq!(report.end, DrainEnd::Quarantined, "{report:?}");
        assert_eq!((report.processed, report.dead_lettered), (0, 0));
        let reason = report.quarantine.unwrap();
        assert!(
            reason.contains("does not decode") && reason.contains("age"),
            "{reason}"
        );
    }
    let listed = v2.quarantined::<ProfileV2>().await.unwrap();
    let mine: Vec<_> = listed.iter().filter(|q| q.id.as_str() == id).collect();
    assert_eq!(mine.len(), 1, "{listed:?}");
    assert!(crate::dead_letters::<ProfileV2>(&v2, &id).await.is_empty());

    // An ask is not left to time out in silence: it says the actor is quarantined.
    let asked = profile
        .birthday()
        .timeout(Duration::from_millis(300))
        .call()
        .await;
    assert!(
        matches!(&asked, Err(AskError::Runtime(Error::Quarantined { reason, .. })) if reason.contains("age")),
        "{asked:?}"
    );

    // The fix is deployed; the operator retries; every queued message runs, in order.
    let v3 = manual(&store, DrainConfig::default());
    v3.register::<ProfileV3>().unwrap();
    let quarantine = v3.quarantine::<ProfileV3>(&id).unwrap();
    assert!(quarantine.status().await.unwrap().is_some());
    quarantine.retry().await.unwrap();
    assert!(quarantine.status().await.unwrap().is_none());
    assert!(matches!(
        quarantine.retry().await,
        Err(Error::NotQuarantined { .. })
    ));
    let report = drain::<ProfileV3>(&v3, &id).await;
    assert_eq!(
        (report.end, report.processed),
        (DrainEnd::Empty, 3),
        "{report:?}"
    );
    let profile = crate::state::<ProfileV3>(&v3, &id).await;
    assert_eq!((profile.name.as_str(), profile.age), ("Ada L.", 2));
}

/// Writes `state` and `meta` as the actor's committed record, through the store trait:
/// what a corrupt record, or one written by another program, looks like to MQLess.
pub async fn write_record(
    store: &dyn Store,
    address: &mqless::id::Address,
    state: &[u8],
    meta: &[u8],
) {
    let record = store
        .acquire(address, 1, 2, 7)
        .await
        .unwrap()
        .taken()
        .expect("the lease is free");
    let commit = Commit {
        epoch: record.epoch,
        expected_version: record.version,
        state: state.to_vec(),
        meta: meta.to_vec(),
        lease_expires_at: 0,
        outgoing: Vec::new(),
        continued: None,
        expires_at: None,
        mark: None,
        subscriptions: Vec::new(),
    };
    store.commit(address, &commit).await.unwrap();
}

/// Corrupt bookkeeping and corrupt state quarantine the actor; the operator clears the
/// bookkeeping, replaces the state, or resets it, and the queued messages then run.
pub async fn an_operator_repairs_or_resets_a_quarantined_actor(store: Arc<dyn Store>) {
    let runtime = manual(&store, DrainConfig::default());
    runtime.register::<ProfileV3>().unwrap();
    let good_state = mqless::wire::encode(&ProfileV3::default(), "state", 1024).unwrap();
    let garbage = vec![0xc1, 0xff, 0x00];
    for (case, state, meta) in [
        ("meta", good_state.clone(), garbage.clone()),
        ("replace", garbage.clone(), Vec::new()),
        ("reset", garbage.clone(), Vec::new()),
    ] {
        let id = fresh_id(case);
        let address = address("Profile", &id);
        let meta = if meta.is_empty() {
            mqless::wire::encode(&std::collections::BTreeMap::<String, u8>::new(), "meta", 64)
                .unwrap()
        } else {
            meta
        };
        write_record(&*store, &address, &state, &meta).await;
        let profile = runtime.client::<ProfileV3>(&id).unwrap();
        profile.birthday().send().await.unwrap();
        let report = drain::<ProfileV3>(&runtime, &id).await;
        assert_eq!(report.end, DrainEnd::Quarantined, "{case}: {report:?}");
        let reason = report.quarantine.unwrap();
        let quarantine = runtime.quarantine::<ProfileV3>(&id).unwrap();
        match case {
            "meta" => {
                assert!(reason.contains("bookkeeping"), "{reason}");
                quarantine.lift(StateFix::Keep, true).await.unwrap();
            }
            "replace" => {
                assert!(reason.contains("state does not decode"), "{reason}");
                assert_eq!(
                    quarantine.stored_state().await.unwrap(),
                    Some(garbage.clone())
                );
                let repaired = ProfileV3 {
                    name: "Grace".into(),
                    age: 40,
                };
                quarantine.replace_state(&repaired).await.unwrap();
            }
            _ => quarantine.reset_state().await.unwrap(),
        }
        let report = drain::<ProfileV3>(&runtime, &id).await;
        assert_eq!(
            (report.end, report.processed),
            (DrainEnd::Empty, 1),
            "{case}: {report:?}"
        );
        let age = crate::state::<ProfileV3>(&runtime, &id).await.age;
        assert_eq!(age, if case == "replace" { 41 } else { 1 }, "{case}");
    }
}

/// A blob store whose limits allow states past DynamoDB's item limit: what a user who
/// raised `Limits::max_state_bytes` gets.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Blob {
    /// The blob (small values encode as one byte each).
    pub data: Vec<u8>,
}

#[mqless::actor]
impl Blob {
    /// Replaces the blob with `len` bytes.
    pub fn fill(&mut self, len: u32) {
        self.data = vec![1; len as usize];
    }

    /// A reply of `len` bytes.
    pub fn echo(&self, len: u32) -> Vec<u8> {
        vec![2; len as usize]
    }
}

/// A message whose commit can never fit (its state would exceed DynamoDB's 400 KB item)
/// is dead-lettered with the limit named, the previous state kept, and the next message
/// runs: nothing retries it forever.
pub async fn a_message_whose_commit_cannot_fit_is_dead_lettered(store: Arc<dyn Store>) {
    let config = DrainConfig {
        limits: Limits {
            max_state_bytes: 1024 * 1024,
            ..Limits::DEFAULT
        },
        ..DrainConfig::default()
    };
    let runtime = manual(&store, config);
    runtime.register::<Blob>().unwrap();
    let id = fresh_id("blob");
    let blob = runtime.client::<Blob>(&id).unwrap();
    blob.fill(10).send().await.unwrap();
    blob.fill(500_000).send().await.unwrap();
    let report = drain::<Blob>(&runtime, &id).await;
    assert_eq!(
        (report.end, report.processed, report.dead_lettered),
        (DrainEnd::Empty, 1, 1),
        "{report:?}"
    );
    assert_eq!(crate::state::<Blob>(&runtime, &id).await.data.len(), 10);
    blob.fill(20).send().await.unwrap();
    let report = drain::<Blob>(&runtime, &id).await;
    assert_eq!(
        (report.processed, report.dead_lettered),
        (1, 0),
        "{report:?}"
    );
    let letters = crate::dead_letters::<Blob>(&runtime, &id).await;
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].error.contains("409600-byte item limit"),
        "the error names the limit: {}",
        letters[0].error
    );
    assert_eq!(crate::state::<Blob>(&runtime, &id).await.data.len(), 20);
}

/// The worst case the issue measured: a state near 256 KiB, a full window of 128-byte
/// idempotency keys, and two asks each replying ~64 KiB, queued for one drain. Together
/// they would make a 410 KB state record; the batch budgets the worst case before each
/// message, so they commit in two batches and both replies arrive.
pub async fn the_worst_case_state_record_stays_under_the_item_limit(store: Arc<dyn Store>) {
    let runtime = Arc::new(manual(&store, DrainConfig::default()));
    runtime.register::<Blob>().unwrap();
    let id = fresh_id("worst");
    let blob = runtime.client::<Blob>(&id).unwrap();
    blob.fill(262_100).send().await.unwrap();
    for n in 0..128 {
        blob.fill(262_100)
            .idempotency_key(format!("{n:0>128}"))
            .send()
            .await
            .unwrap();
    }
    let report = drain::<Blob>(&runtime, &id).await;
    assert_eq!(
        (report.processed, report.dead_lettered),
        (129, 0),
        "{report:?}"
    );

    let asks: Vec<_> = (0..2)
        .map(|_| {
            let runtime = Arc::clone(&runtime);
            let id = id.clone();
            tokio::spawn(async move {
                let blob = runtime.client::<Blob>(&id).unwrap();
                blob.echo(65_400)
                    .timeout(Duration::from_secs(60))
                    .call()
                    .await
            })
        })
        .collect();
    let address = address("Blob", &id);
    while store.read_mailbox(&address, 2).await.unwrap().len() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let report = drain::<Blob>(&runtime, &id).await;
    assert_eq!(
        (
            report.processed,
            report.dead_lettered,
            report.batches,
            report.refused_commits
        ),
        (2, 0, 2, 0),
        "each big reply in its own batch, none refused: {report:?}"
    );
    for ask in asks {
        assert_eq!(ask.await.unwrap().unwrap().len(), 65_400);
    }
}

/// A record that cannot commit even without a new message (here: a store whose item
/// limit the committed state already exceeds) quarantines the actor, naming the limit,
/// instead of dead-lettering every message behind it; once the cause is gone, `retry`
/// runs the queued message. Over `inner`.
pub async fn a_record_that_cannot_commit_at_all_quarantines_the_actor<S: Store>(inner: S) {
    let store = Arc::new(mqless::testing::FaultyStore::over(inner));
    let dyn_store: Arc<dyn Store> = store.clone();
    let runtime = manual(&dyn_store, DrainConfig::default());
    runtime.register::<Blob>().unwrap();
    let id = fresh_id("unfit");
    let blob = runtime.client::<Blob>(&id).unwrap();
    blob.fill(2_000).send().await.unwrap();
    assert_eq!(drain::<Blob>(&runtime, &id).await.processed, 1);
    // Now no commit of a state over 1,000 bytes lands, and the committed one is 2,000.
    store.refuse_states_over(Some(1_000));
    blob.fill(3_000).send().await.unwrap();
    let report = drain::<Blob>(&runtime, &id).await;
    assert_eq!(
        (report.end, report.processed, report.dead_lettered),
        (DrainEnd::Quarantined, 0, 0),
        "{report:?}"
    );
    let reason = report.quarantine.unwrap();
    assert!(
        reason.contains("cannot be committed even without new messages")
            && reason.contains("1000-byte"),
        "{reason}"
    );
    store.refuse_states_over(None);
    runtime
        .quarantine::<Blob>(&id)
        .unwrap()
        .retry()
        .await
        .unwrap();
    let report = drain::<Blob>(&runtime, &id).await;
    assert_eq!(
        (report.end, report.processed),
        (DrainEnd::Empty, 1),
        "{report:?}"
    );
    assert_eq!(crate::state::<Blob>(&runtime, &id).await.data.len(), 3_000);
}
