//! The command line's scenarios, shared by `mqless-bench` and the README's tables.

use crate::{BenchError, Table};

/// What `mqless-bench` accepts.
pub const USAGE: &str = "usage: mqless-bench <cost|contention|embedded|e2e|saga|timers|fanout|sweep|emit|all> [--writers N] [--updates N] [--tells N] [--asks N] [--subscribers N] [--orders N] [--no-baseline]\n       mqless-bench readme <--check|--write> [scenario ...]";

const SCENARIOS: [&str; 9] = [
    "cost",
    "contention",
    "embedded",
    "e2e",
    "saga",
    "timers",
    "fanout",
    "sweep",
    "emit",
];

/// The sizes a run uses: the defaults, or the command line's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sizes {
    writers: usize,
    updates: usize,
    tells: usize,
    asks: usize,
    subscribers: usize,
    orders: usize,
    /// Whether to measure the baselines beside MQLess (`--no-baseline`: not, and their
    /// rows say so). The README check skips them where it compares only MQLess's rows.
    baseline: bool,
}

impl Sizes {
    fn parse(flags: &[String]) -> Result<Self, BenchError> {
        let mut sizes = Sizes {
            writers: 32,
            updates: 200,
            tells: 200_000,
            asks: 2_000,
            subscribers: 1_000,
            orders: 40,
            baseline: true,
        };
        let mut flags = flags.iter();
        while let Some(flag) = flags.next() {
            if flag == "--no-baseline" {
                sizes.baseline = false;
                continue;
            }
            let value: usize = flags
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{flag} needs a number; {USAGE}"))?;
            let slot = match flag.as_str() {
                "--writers" => &mut sizes.writers,
                "--updates" => &mut sizes.updates,
                "--tells" => &mut sizes.tells,
                "--asks" => &mut sizes.asks,
                "--subscribers" => &mut sizes.subscribers,
                "--orders" => &mut sizes.orders,
                _ => return Err(format!("unknown option {flag}; {USAGE}").into()),
            };
            *slot = value;
        }
        Ok(sizes)
    }
}

/// Runs the scenario `args` names (`all`: every one) with its flags; its tables.
///
/// # Errors
/// An unknown scenario or flag (with the usage), or the scenario's own error.
pub async fn run(args: &[String]) -> Result<Vec<Table>, BenchError> {
    let (scenario, flags) = args.split_first().ok_or(USAGE)?;
    if scenario != "all" && !SCENARIOS.contains(&scenario.as_str()) {
        return Err(format!("unknown scenario {scenario}; {USAGE}").into());
    }
    let sizes = Sizes::parse(flags)?;
    let mut tables = Vec::new();
    for name in SCENARIOS {
        if scenario == name || scenario == "all" {
            tables.push(run_one(name, sizes).await?);
        }
    }
    Ok(tables)
}

async fn run_one(scenario: &str, sizes: Sizes) -> Result<Table, BenchError> {
    match scenario {
        "cost" => crate::cost(&[1, 10, 100]).await,
        "contention" => crate::contention(sizes.writers, sizes.updates, sizes.baseline).await,
        "embedded" => crate::embedded(8, sizes.tells, sizes.asks).await,
        "saga" => crate::saga(sizes.orders).await,
        "timers" => crate::timers(sizes.asks.min(200)).await,
        "fanout" => {
            let counts: Vec<usize> = [1, 100, sizes.subscribers]
                .into_iter()
                .filter(|&n| n <= sizes.subscribers)
                .collect();
            crate::fan_out(&counts).await
        }
        "sweep" => crate::sweep(&[1_000, 10_000, 100_000], 10_000).await,
        "e2e" => crate::end_to_end(sizes.asks.min(200)).await,
        "emit" => crate::emit(sizes.asks.min(200) as u64).await,
        other => Err(format!("unknown scenario {other}; {USAGE}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_set_sizes_and_mistakes_say_how_to_call() {
        let sizes = Sizes::parse(&args("--asks 100 --orders 3")).unwrap();
        assert_eq!((sizes.asks, sizes.orders, sizes.writers), (100, 3, 32));
        assert!(sizes.baseline);
        assert!(
            !Sizes::parse(&args("--no-baseline --asks 1"))
                .unwrap()
                .baseline
        );
        let error = Sizes::parse(&args("--asks")).unwrap_err().to_string();
        assert!(error.contains("--asks needs a number"), "{error}");
        let error = Sizes::parse(&args("--nope 1")).unwrap_err().to_string();
        assert!(error.contains("unknown option --nope"), "{error}");
    }
}
