//! The seeded fault scenario (`mqless_tests::scenario`) with optimistic
//! drains on (`DrainConfig::optimistic`), on the in-memory store and on DynamoDB Local.
//! Every invariant of the
//! lease path is checked but one: with the lease skipped, two drains racing for an idle
//! actor may both *run* its message (one commits), so overlapping executions are
//! counted and printed, not refused. What is committed stays exactly once and in order.
//! Its own process, as the overlap counter is process-wide.

use std::time::Duration;

use mqless::store::MemoryStore;
use mqless_tests::scenario::{self, Params, Stats};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_effects_hold_under_injected_faults_with_optimistic_drains() {
    let seeds: Vec<u64> = match std::env::var("MQLESS_SEED") {
        Ok(seed) => vec![seed.parse().expect("MQLESS_SEED is a number")],
        Err(_) => (1..=500).collect(),
    };
    let params = Params {
        // Few senders and more actors: mailboxes often hold one message, as for the
        // actors the optimistic path is for.
        actors: 4,
        senders: 2,
        messages: 24,
        hang_timeout: Duration::from_millis(5),
        prefix: String::new(),
        optimistic: true,
        client_skew_millis: 3_000,
        legacy: None,
        racing_sends: None,
    };
    let mut total = Stats::default();
    for &seed in &seeds {
        total.add(&scenario::run_seed(MemoryStore::new(), seed, &params).await);
    }
    println!("{}", total.summary());
    assert_eq!(total.applied_once, total.acknowledged);
    assert!(total.optimistic_drains > 0, "the optimistic path was taken");
}

/// The same on DynamoDB Local, in key layout v2, with fewer seeds (each store call is a
/// request): the conditional writes that fence an optimistic commit, an actor's first
/// one (guarded by version 0) included, are DynamoDB's own. `MQLESS_SEED` runs one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_effects_hold_under_injected_faults_with_optimistic_drains_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store =
        mqless_tests::local_aws::fresh_store_in("optimistic-faults", mqless::aws::KeyLayout::V2)
            .await;
    let seeds: Vec<u64> = match std::env::var("MQLESS_SEED") {
        Ok(seed) => vec![seed.parse().expect("MQLESS_SEED is a number")],
        Err(_) => (1..=10).collect(),
    };
    let mut total = Stats::default();
    for &seed in &seeds {
        let params = Params {
            actors: 3,
            senders: 2,
            messages: 8,
            hang_timeout: Duration::from_millis(500),
            prefix: format!("s{seed}-"),
            optimistic: true,
            client_skew_millis: 3_000,
            legacy: None,
            racing_sends: None,
        };
        total.add(&scenario::run_seed(store.clone(), seed, &params).await);
    }
    println!("DynamoDB Local, seeds {seeds:?}: {}", total.summary());
    assert_eq!(total.applied_once, total.acknowledged);
    assert!(total.optimistic_drains > 0, "the optimistic path was taken");
}
