//! The README's figures, measured again: every count in its benchmark tables (units and
//! requests; never times) must be what the bench measures now, within the rule each
//! table states (`mqless_bench::readme`). Needs the local stack (`scripts/test` turns
//! on `e2e`).

#![cfg(feature = "e2e")]

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_figures_are_what_the_bench_measures() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    match mqless_bench::readme::check(&readme, &[]).await {
        Ok(report) => println!("{report}"),
        Err(moved) => panic!("{moved}"),
    }
}
