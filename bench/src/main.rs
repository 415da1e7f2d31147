//! `cargo run --release -p mqless-bench -- <scenario> [options]`, or
//! `mqless-bench readme <--check|--write> [scenario ...]` for the tables of the README
//! and the guide (`docs/guide/*.md`).
//!
//! `cost`, `contention`, `saga`, `timers`, `fanout`, `sweep` and `e2e` need DynamoDB (and
//! `e2e` the Lambda emulator): run them under `scripts/local-aws`, which starts both and
//! sets the environment.

use mqless_bench::BenchError;

/// The workspace, from this crate.
const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

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
    if !matches!(mode.as_str(), "--check" | "--write") {
        return Err(mqless_bench::USAGE.into());
    }
    for path in mqless_bench::readme::documents(std::path::Path::new(WORKSPACE))? {
        let text = std::fs::read_to_string(&path)?;
        let name = path.strip_prefix(WORKSPACE).unwrap_or(&path).display();
        if mode == "--check" {
            let report = mqless_bench::readme::check(&text, only).await?;
            println!("{name}:\n{report}");
        } else {
            let updated = mqless_bench::readme::write(&text, only).await?;
            if updated != text {
                std::fs::write(&path, updated)?;
                println!("{name}: tables measured again");
            }
        }
    }
    Ok(())
}
