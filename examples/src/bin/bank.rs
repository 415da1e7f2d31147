//! Accounts as actors, hammered by concurrent tasks; checks that money is conserved.
//!
//! ```text
//! cargo run --release -p mqless-examples --bin bank -- [--accounts N] [--tasks N] [--ops N] [--seed N]
//! cargo run --release -p mqless-examples --features aws --bin bank -- [...] [--dynamodb | --lambda]
//! ```
//!
//! By default everything runs in process, and the example builds without the AWS SDK.
//! With the `aws` feature: `--dynamodb` keeps mailboxes and state in the
//! DynamoDB table `MQLESS_TABLE` (created if missing) with handlers in this process;
//! `--lambda` sends to the `Account` Lambda function (see `MQLESS_FUNCTIONS`) over that
//! table. Both read the standard AWS configuration (`AWS_ENDPOINT_URL` for DynamoDB
//! Local and the Lambda emulator).

use std::sync::Arc;

#[cfg(feature = "aws")]
use mqless::aws::{dynamodb::DynamoStore, Environment};
use mqless::Embedded;
use mqless_examples::bank::{self, Account, BankConfig, BankReport};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Embedded,
    DynamoDb,
    Lambda,
}

fn parse_args() -> Result<(BankConfig, Mode), String> {
    let mut config = BankConfig::default();
    let mut mode = Mode::Embedded;
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
            "--dynamodb" => mode = Mode::DynamoDb,
            "--lambda" => mode = Mode::Lambda,
            "-h" | "--help" => {
                println!("usage: bank [--accounts N] [--tasks N] [--ops N] [--seed N] [--dynamodb | --lambda]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok((config, mode))
}

fn table() -> Result<String, String> {
    std::env::var("MQLESS_TABLE")
        .map_err(|_| "set MQLESS_TABLE to the DynamoDB table to use".to_owned())
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let (config, mode) = parse_args()?;
    let where_ = match mode {
        Mode::Embedded => "the embedded runtime".to_owned(),
        Mode::DynamoDb => format!("DynamoDB table `{}`, handlers in process", table()?),
        Mode::Lambda => format!("Lambda functions over DynamoDB table `{}`", table()?),
    };
    println!(
        "bank on {where_}: {} accounts, {} concurrent tasks x {} operations",
        config.accounts, config.tasks, config.operations_per_task
    );
    let report = match mode {
        Mode::Embedded => run(Embedded::new(), config).await?,
        #[cfg(feature = "aws")]
        Mode::DynamoDb => {
            let store = Environment::load().await?.store();
            store.create_table().await?;
            let report = run(
                Embedded::builder().store(Arc::new(store.clone())).build(),
                config,
            )
            .await?;
            print_capacity(&store, &report);
            report
        }
        #[cfg(feature = "aws")]
        Mode::Lambda => {
            let remote = Environment::load().await?.remote();
            remote.store().create_table().await?;
            let report = bank::run(Arc::new(remote.clone()), config).await?;
            print_capacity(remote.store(), &report);
            report
        }
        #[cfg(not(feature = "aws"))]
        Mode::DynamoDb | Mode::Lambda => {
            return Err("--dynamodb and --lambda need the AWS path: add `--features aws` to the cargo command".into());
        }
    };
    print_report(&report);
    if report.holds() {
        println!("check: money conserved, no balance went negative");
        Ok(())
    } else {
        Err("check FAILED: the books do not balance".into())
    }
}

async fn run(runtime: Embedded, config: BankConfig) -> Result<BankReport, AnyError> {
    runtime.register::<Account>()?;
    bank::run(Arc::new(runtime), config).await
}

fn print_report(report: &BankReport) {
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
}

#[cfg(feature = "aws")]
fn print_capacity(store: &DynamoStore, report: &BankReport) {
    let used = store.capacity();
    println!(
        "DynamoDB (this process): {} requests, {:.0} write units, {:.0} read units ({:.2} write units per message)",
        used.requests,
        used.write_units,
        used.read_units,
        used.write_units / report.messages.max(1) as f64
    );
}
