//! The README's and the guide's figures, measured again: every count in their benchmark
//! tables (units and requests; never times) must be what the bench measures now, within
//! the rule each table states (`mqless_bench::readme`). Needs the local stack
//! (`scripts/test` starts it; a plain `cargo test` skips these with a line that says so).
//!
//! One test per scenario, so that a mutation of the meter runs only the table that shows
//! it (`scripts/mutants.py`); they take turns, as a table measured beside another would
//! count the other's load (the timers' reads do).

use std::path::{Path, PathBuf};

/// The scenarios whose tables are checked, each by the test of its name.
const CHECKED: [&str; 7] = [
    "cost",
    "fanout",
    "saga",
    "timers",
    "contention",
    "e2e",
    "emit",
];
/// Tables the bench writes but never checks (their marks say why: times only, minutes).
const NOT_CHECKED: [&str; 2] = ["sweep", "embedded"];

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn documents() -> Vec<PathBuf> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    mqless_bench::readme::documents(root).expect("the README and the guide")
}

/// The scenario named by each benchmark mark (`<!-- bench: NAME ...`) in `text`.
fn marked_scenarios(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("<!-- bench: "))
        .filter_map(|rest| rest.split([' ', ';']).next())
        .map(str::to_owned)
        .collect()
}

/// Measures again every table of `scenario`, in the README and the guide.
async fn check(scenario: &str) {
    mqless_tests::requires_local_aws!();
    let _turn = ONE_AT_A_TIME.lock().await;
    let started = std::time::Instant::now();
    let mut tables = 0;
    for path in documents() {
        let text = std::fs::read_to_string(&path).expect("a document");
        if !marked_scenarios(&text).iter().any(|name| name == scenario) {
            continue;
        }
        tables += 1;
        match mqless_bench::readme::check(&text, &[scenario.to_owned()]).await {
            Ok(report) => println!(
                "{} ({scenario}: measured again in {:.0?}):\n{report}",
                path.display(),
                started.elapsed()
            ),
            Err(moved) => panic!("{}: {moved}", path.display()),
        }
    }
    assert!(tables > 0, "no document has a `{scenario}` table");
}

#[test]
fn every_table_is_checked_or_says_why_not() {
    let mut tables = Vec::new();
    for path in documents() {
        tables.extend(marked_scenarios(
            &std::fs::read_to_string(&path).expect("a document"),
        ));
    }
    for name in &tables {
        assert!(
            CHECKED.contains(&name.as_str()) || NOT_CHECKED.contains(&name.as_str()),
            "the `{name}` table has no test here: add one (or say in its mark why not, and list it)"
        );
    }
    // The README's cost and emit tables, and the guide's: fan-out, saga, timers, sweep,
    // contention, embedded, end to end.
    assert_eq!(tables.len(), 9, "benchmark tables found: {tables:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost() {
    check("cost").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout() {
    check("fanout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga() {
    check("saga").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers() {
    check("timers").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention() {
    check("contention").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e() {
    check("e2e").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit() {
    check("emit").await;
}
