//! Every scenario at tiny sizes, so the benchmarks cannot rot. Asserts correctness only,
//! never time.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_scenario_runs() {
    let table = mqless_bench::embedded(2, 200, 20).await.unwrap();
    assert_eq!(table.rows.len(), 2);
}

#[cfg(feature = "e2e")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_scenarios_run() {
    // `scripts/test` exports the local stack's endpoints for clients and handlers.
    for name in [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_LAMBDA",
        "MQLESS_TABLE",
    ] {
        assert!(
            std::env::var(name).is_ok(),
            "{name} is not set: run `scripts/test`, which starts the local AWS stack"
        );
    }
    assert_eq!(mqless_bench::cost(&[2]).await.unwrap().rows.len(), 3);
    assert_eq!(mqless_bench::contention(2, 3).await.unwrap().rows.len(), 3);
    assert_eq!(mqless_bench::end_to_end(3).await.unwrap().rows.len(), 3);
    assert_eq!(mqless_bench::saga(2).await.unwrap().rows.len(), 3);
    assert_eq!(mqless_bench::timers(3).await.unwrap().rows.len(), 6);
    assert_eq!(mqless_bench::fan_out(&[3]).await.unwrap().rows.len(), 2);
    assert_eq!(
        mqless_bench::sweep(&[30, 60], 40).await.unwrap().rows.len(),
        5
    );
}
