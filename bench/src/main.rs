//! `cargo run --release -p mqless-bench -- <scenario> [options]`, or
//! `mqless-bench readme <--check|--write> [scenario ...]` for the README's tables.
//!
//! `cost`, `contention`, `saga`, `timers`, `fanout`, `sweep` and `e2e` need DynamoDB (and
//! `e2e` the Lambda emulator): run them under `scripts/local-aws`, which starts both and
//! sets the environment.

use mqless_bench::BenchError;

/// Where the README is, from this crate.
const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("readme") {
        readme(&args[1..]).await
    } else {
        scenarios(&args).await
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mqless-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn scenarios(args: &[String]) -> Result<(), BenchError> {
    for table in mqless_bench::run(args).await? {
        println!("{table}");
    }
    Ok(())
}

async fn readme(args: &[String]) -> Result<(), BenchError> {
    let (mode, only) = args.split_first().ok_or(mqless_bench::USAGE)?;
    let text = std::fs::read_to_string(README)?;
    match mode.as_str() {
        "--check" => {
            let report = mqless_bench::readme::check(&text, only).await?;
            println!("{report}");
        }
        "--write" => {
            let updated = mqless_bench::readme::write(&text, only).await?;
            std::fs::write(README, updated)?;
            println!("README.md: tables measured again");
        }
        _ => return Err(mqless_bench::USAGE.into()),
    }
    Ok(())
}
