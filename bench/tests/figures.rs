//! The README's and the guide's figures, measured again: every count in their benchmark
//! tables (units and requests; never times) must be what the bench measures now, within
//! the rule each table states (`mqless_bench::readme`). Needs the local stack
//! (`scripts/test` starts it; a plain `cargo test` skips this with a line that says so).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_figures_are_what_the_bench_measures() {
    mqless_tests::requires_local_aws!();
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let documents = mqless_bench::readme::documents(root).expect("the README and the guide");
    let mut tables = 0;
    for path in documents {
        let text = std::fs::read_to_string(&path).expect("a document");
        tables += text
            .lines()
            .filter(|line| line.starts_with("<!-- bench: "))
            .count();
        match mqless_bench::readme::check(&text, &[]).await {
            Ok(report) => println!("{}:\n{report}", path.display()),
            Err(moved) => panic!("{}: {moved}", path.display()),
        }
    }
    // The README's cost table, and the guide's: fan-out, saga, timers, sweep, contention,
    // embedded, end to end.
    assert_eq!(
        tables, 8,
        "benchmark tables found in the README and the guide"
    );
}
