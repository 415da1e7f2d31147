//! The actors of the examples, shared by the example programs and the test suite.

pub mod bank;
pub mod counter;
pub mod iot;
pub mod order_events;
pub mod saga;

/// The runtime an example program runs on, from its arguments: the embedded runtime, or
/// with `--dynamodb` (and the `aws` feature) the table `MQLESS_TABLE` with the handlers
/// in this process.
///
/// # Errors
/// An unknown argument, `--dynamodb` without the `aws` feature or `MQLESS_TABLE`, or
/// the table cannot be created.
pub async fn runtime_from_args(
    program: &str,
) -> Result<mqless::Embedded, Box<dyn std::error::Error + Send + Sync>> {
    let mut dynamodb = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--dynamodb" => dynamodb = true,
            "-h" | "--help" => {
                println!("usage: {program} [--dynamodb]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}; try --help").into()),
        }
    }
    if !dynamodb {
        return Ok(mqless::Embedded::new());
    }
    dynamodb_runtime().await
}

#[cfg(feature = "aws")]
async fn dynamodb_runtime() -> Result<mqless::Embedded, Box<dyn std::error::Error + Send + Sync>> {
    let table = std::env::var("MQLESS_TABLE")
        .map_err(|_| "set MQLESS_TABLE to the DynamoDB table to use")?;
    println!("on DynamoDB table `{table}`, handlers in this process");
    let store = mqless::aws::Environment::load().await?.store();
    store.create_table().await?;
    Ok(mqless::Embedded::builder()
        .store(std::sync::Arc::new(store))
        .build())
}

#[cfg(not(feature = "aws"))]
async fn dynamodb_runtime() -> Result<mqless::Embedded, Box<dyn std::error::Error + Send + Sync>> {
    Err("--dynamodb needs the AWS path: add `--features aws` to the cargo command".into())
}
