//! The bank example's invariants, checked on any runtime.

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
