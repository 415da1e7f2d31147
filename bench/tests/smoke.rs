//! Every scenario at tiny sizes, so the benchmarks cannot rot. Asserts correctness only,
//! never time.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_scenario_runs() {
    let table = mqless_bench::embedded(2, 200, 20).await.unwrap();
    assert_eq!(table.rows.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_scenarios_run() {
    mqless_tests::requires_local_aws!();
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
    // At ~1 KB: the lease, the optimistic path, the baseline; at 200 B and 4 KB: both paths.
    assert_eq!(mqless_bench::cost(&[2]).await.unwrap().rows.len(), 7);
    assert_eq!(
        mqless_bench::contention(2, 3, true)
            .await
            .unwrap()
            .rows
            .len(),
        3
    );
    assert_eq!(mqless_bench::end_to_end(3).await.unwrap().rows.len(), 3);
    assert_eq!(mqless_bench::saga(2).await.unwrap().rows.len(), 3);
    assert_eq!(mqless_bench::timers(3).await.unwrap().rows.len(), 6);
    assert_eq!(mqless_bench::fan_out(&[3]).await.unwrap().rows.len(), 2);
    // The README's sweep table is not checked (its 100,000 actors take minutes): what it
    // shows, a sweep that reads the same whatever the table holds, is checked here.
    let sweep = mqless_bench::sweep(&[30, 60], 40).await.unwrap();
    assert_eq!(sweep.rows.len(), 5);
    let sweep_read_units = |row: usize| sweep.rows[row][3].clone();
    assert_eq!(sweep.rows[0][1], "sweep (due index)");
    assert_eq!(
        sweep_read_units(0),
        sweep_read_units(2),
        "a sweep's read units at 30 and 60 idle actors: {sweep}"
    );
}
