//! The cost targets, asserted on DynamoDB Local: request units, unlike times, are
//! deterministic. Needs the local stack (`scripts/test` turns on `e2e`).

#![cfg(feature = "e2e")]

/// Write units per message, measured from DynamoDB Local's `ConsumedCapacity` over the
/// whole protocol (enqueue, acquire, read, commit, cleanup, release) by the benchmark's
/// cost scenario; asserted here because unit counts, unlike times, are deterministic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_units_per_message_meet_the_design_target() {
    // `scripts/test` exports the local stack's endpoints.
    let rows = mqless_bench::measure_cost(&[1, 10, 100]).await.unwrap();
    let units = |design: &str, per_drain: usize| {
        rows.iter()
            .find(|r| r.design == design && r.per_drain == per_drain)
            .unwrap()
            .write_units
    };
    let mqless = |per_drain: usize| units("MQLess", per_drain);
    assert!(
        units("MQLess, optimistic", 1) <= 3.0,
        "DESIGN.md: <= 3.0 write units per message at 1 per drain with optimistic drains, got {:.2}",
        units("MQLess, optimistic", 1)
    );
    println!("{rows:#?}");
    assert!(
        mqless(10) <= 2.5,
        "DESIGN.md: <= 2.5 write units per message at 10 per drain, got {:.2}",
        mqless(10)
    );
    assert!(
        mqless(100) <= 2.2,
        "DESIGN.md: <= 2.2 write units per message at 100 per drain, got {:.2}",
        mqless(100)
    );
}
