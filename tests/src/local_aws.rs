//! Connections to the local AWS stack that `scripts/test` and `scripts/local-aws` start.
//!
//! A test that needs the stack begins with [`requires_local_aws!`](crate::requires_local_aws):
//! under a plain `cargo test` (no stack) it is skipped with one line on the terminal that
//! names the command that runs it; under `scripts/test`, which sets
//! `MQLESS_REQUIRE_LOCAL_AWS`, a missing stack fails it instead, so nothing is skipped there.

use std::io::Write as _;

use mqless::aws::dynamodb::DynamoStore;

/// The command that starts the local stack and runs the tests that need it.
pub const RUN_WITH_LOCAL_AWS: &str = "scripts/local-aws cargo test --workspace --all-features";

/// The value of `name`, or a panic that says how to run these tests.
#[must_use]
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the end-to-end tests with `{RUN_WITH_LOCAL_AWS}` (or `scripts/test`), which start DynamoDB Local and the Lambda emulator")
    })
}

/// Whether the calling test must be skipped: the local stack is not running (its
/// endpoint is not set) and nothing requires it. Says so on the terminal, past the test
/// harness's capture of printed output, so each skipped test shows one line.
///
/// # Panics
/// When `MQLESS_REQUIRE_LOCAL_AWS` is set (`scripts/test` sets it) and the stack is not.
#[must_use]
pub fn skipped() -> bool {
    if std::env::var_os("MQLESS_TEST_DYNAMODB_ENDPOINT").is_some() {
        return false;
    }
    if std::env::var_os("MQLESS_REQUIRE_LOCAL_AWS").is_some() {
        panic!("MQLESS_TEST_DYNAMODB_ENDPOINT is not set, and MQLESS_REQUIRE_LOCAL_AWS says this run must not skip the tests that need the local AWS stack: run them with `{RUN_WITH_LOCAL_AWS}` or `scripts/test`");
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    // `std::io::stderr()` is not captured by the test harness (only `eprintln!` is).
    let _ = writeln!(
        std::io::stderr().lock(),
        "skipped {test}: needs DynamoDB Local and the Lambda emulator; `{RUN_WITH_LOCAL_AWS}` starts them and runs it"
    );
    true
}

/// Returns from the calling test (see [`local_aws::skipped`](crate::local_aws::skipped))
/// when the local AWS stack is not running and nothing requires it.
#[macro_export]
macro_rules! requires_local_aws {
    () => {
        if $crate::local_aws::skipped() {
            return;
        }
    };
}

/// Points the AWS SDK at the local stack with dummy credentials.
pub fn configure() {
    let dynamodb = env("MQLESS_TEST_DYNAMODB_ENDPOINT");
    // SAFETY-free: tests set these before any SDK client reads them, and every test
    // sets the same values.
    for (key, value) in [
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.as_str()),
        ("AWS_ACCESS_KEY_ID", "mqlesstest"),
        ("AWS_SECRET_ACCESS_KEY", "mqlesstest"),
        ("AWS_REGION", "us-east-1"),
    ] {
        if std::env::var(key).as_deref() != Ok(value) {
            // Edition 2021: `set_var` is safe; all tests write identical values.
            std::env::set_var(key, value);
        }
    }
}

/// A store over a new table of its own, so tests do not see each other's actors.
pub async fn fresh_store(test: &str) -> DynamoStore {
    fresh_store_in(test, mqless::aws::KeyLayout::default()).await
}

/// [`fresh_store`], its table's keys in `layout`.
pub async fn fresh_store_in(test: &str, layout: mqless::aws::KeyLayout) -> DynamoStore {
    configure();
    let table = format!("{test}-{}", mqless::MessageId::generate(1, None));
    let config = mqless::aws::load_config().await;
    let store = DynamoStore::new(mqless::aws::aws_sdk_dynamodb::Client::new(&config), table)
        .with_key_layout(layout);
    store
        .create_table()
        .await
        .expect("create the test table on DynamoDB Local");
    store
}

/// An embedded runtime over [`fresh_store_in`], and that store (to look at what it wrote).
pub async fn fresh_runtime_in(
    test: &str,
    layout: mqless::aws::KeyLayout,
) -> (mqless::Embedded, std::sync::Arc<DynamoStore>) {
    let store = std::sync::Arc::new(fresh_store_in(test, layout).await);
    let runtime = mqless::Embedded::builder().store(store.clone()).build();
    (runtime, store)
}

/// A store over a new table of its own whose DynamoDB client loses answers as `lost`
/// says (the request lands, the SDK retries it), and retries quickly.
pub async fn fresh_store_losing_answers(test: &str) -> (DynamoStore, mqless::testing::LostAnswers) {
    let lost = mqless::testing::LostAnswers::new();
    (fresh_store_intercepted(test, lost.clone()).await, lost)
}

/// A store over a new table of its own whose DynamoDB client answers queries as `stale`
/// says (as if they ran before the writes that raced them).
pub async fn fresh_store_reading_stale(test: &str) -> (DynamoStore, mqless::testing::StaleReads) {
    let stale = mqless::testing::StaleReads::new();
    (fresh_store_intercepted(test, stale.clone()).await, stale)
}

/// A store over a new table of its own whose DynamoDB client runs `interceptor` (an
/// SDK hook: a fault, a race made on purpose), and retries quickly.
pub async fn fresh_store_intercepted(
    test: &str,
    interceptor: impl mqless::aws::aws_sdk_dynamodb::config::Intercept + 'static,
) -> DynamoStore {
    let table = format!("{test}-{}", mqless::MessageId::generate(1, None));
    let store = store_intercepted(&table, interceptor).await;
    store
        .create_table()
        .await
        .expect("create the test table on DynamoDB Local");
    store
}

/// A store over `table` whose DynamoDB client runs `interceptor`, and retries quickly.
pub async fn store_intercepted(
    table: &str,
    interceptor: impl mqless::aws::aws_sdk_dynamodb::config::Intercept + 'static,
) -> DynamoStore {
    use mqless::aws::aws_sdk_dynamodb::config::{retry::RetryConfig, Builder};
    configure();
    let config = mqless::aws::load_config().await;
    let client_config = Builder::from(&config)
        .interceptor(interceptor)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(std::time::Duration::from_millis(5)),
        )
        .build();
    let client = mqless::aws::aws_sdk_dynamodb::Client::from_conf(client_config);
    DynamoStore::new(client, table)
}

/// Points clients at the Lambda emulator and at the table its functions use (as the
/// functions' own environment does), and makes sure the table exists.
pub async fn lambda_environment() -> mqless::aws::Environment {
    configure();
    for (key, value) in [
        (
            "AWS_ENDPOINT_URL_LAMBDA",
            env("MQLESS_TEST_LAMBDA_ENDPOINT"),
        ),
        ("MQLESS_TABLE", env("MQLESS_TEST_LAMBDA_TABLE")),
        ("MQLESS_FUNCTIONS", env("MQLESS_TEST_LAMBDA_FUNCTIONS")),
    ] {
        std::env::set_var(key, value);
    }
    let environment = mqless::aws::Environment::load()
        .await
        .expect("the emulator's environment");
    environment
        .store()
        .create_table()
        .await
        .expect("create the functions' table on DynamoDB Local");
    environment
}

/// Deletes from `store`'s table what DynamoDB's TTL would have deleted by `now`
/// (milliseconds): every item whose `ttl` (seconds) is past. DynamoDB Local has no TTL
/// deletion; tests call this at the moment they want it to happen.
pub async fn delete_expired(store: &DynamoStore, now: u64) -> usize {
    use mqless::aws::aws_sdk_dynamodb::types::AttributeValue;
    let config = mqless::aws::load_config().await;
    let client = mqless::aws::aws_sdk_dynamodb::Client::new(&config);
    let mut deleted = 0;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(store.table())
            .filter_expression("#ttl <= :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", AttributeValue::N((now / 1000).to_string()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan the test table");
        for item in page.items() {
            let key = ["pk", "sk"]
                .iter()
                .filter_map(|name| Some(((*name).to_owned(), item.get(*name)?.clone())))
                .collect();
            client
                .delete_item()
                .table_name(store.table())
                .set_key(Some(key))
                .send()
                .await
                .expect("delete an expired item");
            deleted += 1;
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return deleted;
        }
    }
}
