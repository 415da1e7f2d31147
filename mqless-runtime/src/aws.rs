//! Shared AWS configuration: the standard chain (environment, profiles, `AWS_ENDPOINT_URL`
//! and per-service `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_LAMBDA`), over one
//! lean HTTP client (rustls with ring). MQLess has no credentials of its own.

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

pub use aws_sdk_dynamodb;
pub use aws_sdk_lambda;

/// Loads the AWS configuration from the standard chain.
///
/// ```no_run
/// # async fn demo() {
/// let config = mqless_runtime::aws::load_config().await;
/// let dynamodb = aws_sdk_dynamodb::Client::new(&config);
/// # }
/// ```
pub async fn load_config() -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await
}

/// Reads a required environment variable, or says which one to set.
pub(crate) fn env_var(name: &str, purpose: &str) -> Result<String, crate::Error> {
    std::env::var(name).map_err(|_| crate::Error::Config(format!("set {name}: {purpose}")))
}

/// Clients of actors that run as Lambda functions over a DynamoDB table: sends go into
/// the table, then wake the actor's function.
///
/// ```no_run
/// # async fn demo() -> Result<(), mqless_runtime::Error> {
/// # #[derive(Default, serde::Serialize, serde::Deserialize)] struct Counter;
/// let actors = mqless_runtime::aws::Remote::from_env().await?;
/// // let counter = actors.client::<Counter>("visits")?;
/// // counter.increment(5).send().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Remote {
    store: crate::store::dynamodb::DynamoStore,
    invoker: std::sync::Arc<crate::invoke::lambda::LambdaInvoker>,
    transport: std::sync::Arc<dyn crate::client::Transport>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// Clients over `store`, waking functions through `invoker`.
    #[must_use]
    pub fn new(
        store: crate::store::dynamodb::DynamoStore,
        invoker: crate::invoke::lambda::LambdaInvoker,
        limits: crate::codec::Limits,
    ) -> Self {
        let invoker = std::sync::Arc::new(invoker);
        let transport = std::sync::Arc::new(crate::client::StoreTransport::new(
            std::sync::Arc::new(store.clone()),
            invoker.clone(),
            std::sync::Arc::new(crate::clock::SystemClock),
            limits,
        ));
        Self {
            store,
            invoker,
            transport,
        }
    }

    /// Clients configured from the environment: `MQLESS_TABLE`, the AWS chain, and
    /// `MQLESS_FUNCTIONS` / `MQLESS_FUNCTION_PREFIX`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a setting is missing or invalid.
    pub async fn from_env() -> Result<Self, crate::Error> {
        let table = env_var(
            "MQLESS_TABLE",
            "the DynamoDB table of the mailboxes and state",
        )?;
        let config = load_config().await;
        let store =
            crate::store::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
        let invoker = crate::invoke::lambda::LambdaInvoker::new(
            aws_sdk_lambda::Client::new(&config),
            crate::invoke::lambda::FunctionNames::from_env()?,
        );
        Ok(Self::new(store, invoker, crate::codec::Limits::DEFAULT))
    }

    /// The store (for its table name and consumed capacity).
    #[must_use]
    pub fn store(&self) -> &crate::store::dynamodb::DynamoStore {
        &self.store
    }
}

impl crate::actor::Actors for Remote {
    fn client<A: crate::actor::Actor>(
        &self,
        id: impl Into<String>,
    ) -> Result<A::Client, crate::Error> {
        let address = crate::actor::address_of::<A>(id)?;
        Ok(<A::Client as crate::actor::ActorClient>::from_core(
            crate::client::ClientCore::new(address, std::sync::Arc::clone(&self.transport)),
        ))
    }

    fn dead_letters<A: crate::actor::Actor>(
        &self,
        id: impl Into<String>,
    ) -> Result<crate::recovery::DeadLetters, crate::Error> {
        let address = crate::actor::address_of::<A>(id)?;
        Ok(crate::recovery::DeadLetters::new(
            address,
            std::sync::Arc::new(self.store.clone()),
            self.invoker.clone(),
            std::sync::Arc::new(crate::clock::SystemClock),
        ))
    }

    async fn sweep(&self) -> Result<crate::recovery::SweepReport, crate::Error> {
        crate::recovery::sweep(&self.store, &*self.invoker).await
    }

    async fn settle(&self) {}
}
