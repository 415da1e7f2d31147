//! Accounts as actors, hammered by concurrent tasks; checks that money is conserved.
//!
//! `cargo run --release -p mqless-examples --bin bank -- [--accounts N] [--tasks N] [--ops N] [--seed N]`

use std::sync::Arc;

use mqless_examples::bank::{self, Account, BankConfig};

fn parse_args() -> Result<BankConfig, String> {
    let mut config = BankConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || -> Result<u64, String> {
            let text = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            text.parse()
                .map_err(|_| format!("{flag} needs a number, got {text:?}"))
        };
        match flag.as_str() {
            "--accounts" => config.accounts = value()?.max(1) as usize,
            "--tasks" => config.tasks = value()? as usize,
            "--ops" => config.operations_per_task = value()? as usize,
            "--seed" => config.seed = value()?,
            "-h" | "--help" => {
                println!("usage: bank [--accounts N] [--tasks N] [--ops N] [--seed N]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = parse_args()?;
    let runtime = Arc::new(mqless::Embedded::new());
    runtime.register::<Account>()?;
    println!(
        "bank on the embedded runtime: {} accounts, {} concurrent tasks x {} operations",
        config.accounts, config.tasks, config.operations_per_task
    );
    let report = bank::run(runtime, config).await?;
    let [deposits, withdrawals, transfers] = report.succeeded;
    println!("succeeded: {deposits} deposits, {withdrawals} withdrawals, {transfers} transfers; refused: {}", report.refused);
    println!(
        "messages: {} in {:.2?} = {:.0} messages/s",
        report.messages,
        report.elapsed,
        report.messages_per_second()
    );
    println!(
        "money: expected {}, accounts hold {}; lowest balance ever {}",
        report.expected_total, report.actual_total, report.lowest_balance
    );
    if report.holds() {
        println!("check: money conserved, no balance went negative");
        Ok(())
    } else {
        Err("check FAILED: the books do not balance".into())
    }
}
