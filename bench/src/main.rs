//! `cargo run --release -p mqless-bench -- <cost|contention|embedded|e2e|saga|timers|all> [options]`
//!
//! `cost`, `contention`, `saga`, `timers` and `e2e` need DynamoDB (and `e2e` the Lambda emulator): run them
//! under `scripts/local-aws`, which starts both and sets the environment.

use mqless_bench::BenchError;

const USAGE: &str = "usage: mqless-bench <cost|contention|embedded|e2e|saga|timers|fanout|sweep|all> [--writers N] [--updates N] [--tells N] [--asks N] [--subscribers N]";

#[tokio::main]
async fn main() -> Result<(), BenchError> {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().ok_or(USAGE)?;
    let (mut writers, mut updates, mut tells, mut asks) = (32, 200, 200_000, 2_000);
    let mut subscribers = 1_000;
    while let Some(flag) = args.next() {
        let value: usize = args
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a number; {USAGE}"))?;
        match flag.as_str() {
            "--writers" => writers = value,
            "--updates" => updates = value,
            "--tells" => tells = value,
            "--asks" => asks = value,
            "--subscribers" => subscribers = value,
            _ => return Err(format!("unknown option {flag}; {USAGE}").into()),
        }
    }
    let run = |name: &str| scenario == name || scenario == "all";
    if ![
        "cost",
        "contention",
        "embedded",
        "e2e",
        "saga",
        "timers",
        "fanout",
        "sweep",
        "all",
    ]
    .contains(&scenario.as_str())
    {
        return Err(USAGE.into());
    }
    if run("cost") {
        println!("{}", mqless_bench::cost(&[1, 10, 100]).await?);
    }
    if run("contention") {
        println!("{}", mqless_bench::contention(writers, updates).await?);
    }
    if run("embedded") {
        println!("{}", mqless_bench::embedded(8, tells, asks).await?);
    }
    if run("saga") {
        println!("{}", mqless_bench::saga(40).await?);
    }
    if run("timers") {
        println!("{}", mqless_bench::timers(asks.min(200)).await?);
    }
    if run("fanout") {
        let sizes: Vec<usize> = [1, 100, subscribers]
            .into_iter()
            .filter(|&n| n <= subscribers)
            .collect();
        println!("{}", mqless_bench::fan_out(&sizes).await?);
    }
    if run("sweep") {
        println!(
            "{}",
            mqless_bench::sweep(&[1_000, 10_000, 100_000], 10_000).await?
        );
    }
    if run("e2e") {
        println!("{}", mqless_bench::end_to_end(asks.min(200)).await?);
    }
    Ok(())
}
