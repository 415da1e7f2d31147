//! Seeded fault scenarios on the in-memory store (`mqless_tests::scenario`): store calls
//! crash before their effect, apply but report an error, or are throttled; nudges are
//! dropped, refused, duplicated and delayed; drains race, are killed at random await
//! points, and hang on poison messages; leases expire on a manual clock; clients and
//! handlers have skewed clocks. Then only sweeps and redrives recover. After each seed:
//! every acknowledged message applied exactly once, each sender's messages in order,
//! never two messages of one actor in flight, the poison dead-lettered, every mailbox
//! empty. A failing seed names itself; replay it with
//! `MQLESS_SEED=<seed> cargo test -p mqless-tests --test fault_scenarios -- --nocapture`.

use std::time::Duration;

use mqless::store::MemoryStore;
use mqless_tests::scenario::{self, Params, Stats};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariants_hold_under_injected_faults_on_the_memory_store() {
    let seeds: Vec<u64> = match std::env::var("MQLESS_SEED") {
        Ok(seed) => vec![seed.parse().expect("MQLESS_SEED is a number")],
        Err(_) => (1..=2_000).collect(),
    };
    let params = Params {
        actors: 3,
        senders: 4,
        messages: 12,
        hang_timeout: Duration::from_millis(5),
        prefix: String::new(),
        optimistic: false,
        client_skew_millis: 300_000,
        legacy: None,
        racing_sends: None,
    };
    let mut total = Stats::default();
    for &seed in &seeds {
        total.add(&scenario::run_seed(MemoryStore::new(), seed, &params).await);
    }
    println!("{}", total.summary());
    assert_eq!(
        scenario::overlaps(),
        0,
        "never two messages of one actor in flight"
    );
    assert_eq!(total.applied_once, total.acknowledged);
}
