//! The AWS adapter, behind the `aws` feature: the DynamoDB store, the Lambda invoker, the
//! Lambda entry point of an actor type, and [`Remote`] clients of actors running there.
//! The rest of the runtime never names AWS.
//!
//! Everything is configured from the environment in one place, [`Environment`]: the
//! standard AWS chain (region, credentials, `AWS_ENDPOINT_URL` and the per-service
//! `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_LAMBDA`) over one lean HTTP client
//! (rustls with ring), `MQLESS_TABLE`, and `MQLESS_FUNCTIONS` / `MQLESS_FUNCTION_PREFIX`.
//! MQLess has no credentials of its own.

mod asker;
pub mod channels;
pub mod dynamodb;
mod events;
mod function;
mod invoker;
pub mod manifest;
pub mod payload;
pub mod payload_kinds;
mod remote;
pub mod sources;

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

pub use asker::CallerIdentity;
pub use aws_sdk_dynamodb;
pub use aws_sdk_eventbridge;
pub use aws_sdk_lambda;
pub use aws_sdk_sns;
pub use aws_sdk_sqs;
pub use channels::{AwsEmitter, Channels, Target};
pub use events::{run_events, serve_events, EventsFunction, Subscribers};
pub use function::{
    run, run_with, run_with_flush, serve, serve_sweeper, serve_with, ActorFunction, LambdaError,
    MAX_HOPS, NUDGE_GRACE,
};
pub use invoker::{FunctionNames, LambdaInvoker};
pub use remote::{Remote, DEFAULT_SETTLE_TIMEOUT};

use crate::error::{Error, StoreErrorKind};
pub use dynamodb::schema::KeyLayout;
use dynamodb::DynamoStore;

/// Loads the AWS configuration from the standard chain, over MQLess's lean HTTP client.
///
/// ```no_run
/// # async fn demo() {
/// let config = mqless_runtime::aws::load_config().await;
/// let dynamodb = mqless_runtime::aws::aws_sdk_dynamodb::Client::new(&config);
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

/// Everything MQLess reads from the environment on AWS, loaded once: the SDK
/// configuration, the table (`MQLESS_TABLE`), which function runs each actor type
/// (`MQLESS_FUNCTIONS`, `MQLESS_FUNCTION_PREFIX`), the table's key layout
/// (`MQLESS_KEY_LAYOUT`, else what the table records; see [`KeyLayout`]) and the target of each
/// channel actors emit to (`MQLESS_CHANNELS`). Build the store, the invoker and the
/// clients from it.
///
/// Without `MQLESS_KEY_LAYOUT`, the layout is what the table records
/// ([`Environment::with_table_key_layout`]): a new table made by this environment's
/// store (`environment.store().create_table()`, `mqless table create`) records v2; a
/// table made before tables recorded their layout is v1.
///
/// ```no_run
/// # async fn demo() -> Result<(), mqless_runtime::Error> {
/// let environment = mqless_runtime::aws::Environment::load().await?;
/// let store = environment.store();
/// let actors = environment.remote();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Environment {
    sdk: aws_config::SdkConfig,
    table: String,
    layout: KeyLayout,
    functions: FunctionNames,
    channels: channels::Channels,
}

impl Environment {
    /// Reads the environment.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting that is missing or invalid.
    pub async fn load() -> Result<Self, Error> {
        let table = env_var(
            "MQLESS_TABLE",
            "the DynamoDB table of the mailboxes and state",
        )?;
        let functions = FunctionNames::from_env()?;
        Self {
            sdk: load_config().await,
            table,
            layout: KeyLayout::default(),
            functions,
            channels: channels::Channels::from_env()?,
        }
        .with_configured_key_layout()
        .await
    }

    /// This environment, in the key layout `MQLESS_KEY_LAYOUT` names, else in the one its
    /// table records ([`Self::with_table_key_layout`]): what [`Self::load`] does, for an
    /// environment made from its parts.
    ///
    /// # Errors
    /// [`Error::Config`] when the variable names no layout, or as
    /// [`Self::with_table_key_layout`].
    pub async fn with_configured_key_layout(self) -> Result<Self, Error> {
        match KeyLayout::from_env_if_set()? {
            Some(layout) => Ok(self.with_key_layout(layout)),
            None => self.with_table_key_layout().await,
        }
    }

    /// This environment, in the key layout its table records (see
    /// [`DynamoStore::recorded_key_layout`]): what [`Self::load`] does when
    /// `MQLESS_KEY_LAYOUT` is unset. A table that records none was made before tables
    /// recorded their layout, and is v1; when there is no table yet, v2, the layout
    /// [`DynamoStore::create_table`] then records (this environment's store makes it).
    /// One strongly consistent read.
    ///
    /// A role whose IAM policy refuses that read (one written before tables recorded
    /// their layout) is taken for v1, with a warning that says to set the variable.
    ///
    /// # Errors
    /// [`Error::Config`] when the table cannot be read (unreachable, say) or records a
    /// layout this version does not know: the message says to set `MQLESS_KEY_LAYOUT`,
    /// which skips the read.
    pub async fn with_table_key_layout(self) -> Result<Self, Error> {
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), self.table.clone());
        let layout = layout_from_record(&self.table, store.recorded_key_layout().await)?;
        Ok(self.with_key_layout(layout))
    }

    /// An environment from its parts, for tools that take the table from elsewhere (a
    /// command-line flag, say), in the default key layout (see [`Self::with_key_layout`]).
    #[must_use]
    pub fn new(
        sdk: aws_config::SdkConfig,
        table: impl Into<String>,
        functions: FunctionNames,
    ) -> Self {
        Self {
            sdk,
            table: table.into(),
            layout: KeyLayout::default(),
            functions,
            channels: channels::Channels::new(),
        }
    }

    /// This environment, with `channels` as the targets of what actors emit (instead of
    /// what `MQLESS_CHANNELS` names).
    #[must_use]
    pub fn with_channels(mut self, channels: channels::Channels) -> Self {
        self.channels = channels;
        self
    }

    /// This environment, with the table's keys in `layout` (instead of what
    /// `MQLESS_KEY_LAYOUT` says).
    #[must_use]
    pub fn with_key_layout(mut self, layout: KeyLayout) -> Self {
        self.layout = layout;
        self
    }

    /// The table's key layout.
    #[must_use]
    pub fn key_layout(&self) -> KeyLayout {
        self.layout
    }

    /// The emitter to the channels' targets (`MQLESS_CHANNELS`).
    #[must_use]
    pub fn emitter(&self) -> channels::AwsEmitter {
        channels::AwsEmitter::new(&self.sdk, self.channels.clone())
    }

    /// The AWS SDK configuration.
    #[must_use]
    pub fn sdk_config(&self) -> &aws_config::SdkConfig {
        &self.sdk
    }

    /// The table name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The function of each actor type.
    #[must_use]
    pub fn functions(&self) -> &FunctionNames {
        &self.functions
    }

    /// The store over the table.
    #[must_use]
    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), self.table.clone())
            .with_key_layout(self.layout)
    }

    /// The invoker of the actor types' functions.
    #[must_use]
    pub fn invoker(&self) -> LambdaInvoker {
        LambdaInvoker::new(
            aws_sdk_lambda::Client::new(&self.sdk),
            self.functions.clone(),
        )
    }

    /// Clients of the actors, with the default limits. In key layout v2 they ask as
    /// [`CallerIdentity::from_env`] says (`MQLESS_ASKER`, else STS at the first ask), so
    /// that their replies are kept where only they may read them.
    #[must_use]
    pub fn remote(&self) -> Remote {
        let remote = Remote::new(self.store(), self.invoker(), crate::codec::Limits::DEFAULT);
        if self.layout.apart() {
            remote.asking_as(CallerIdentity::from_env(&self.sdk))
        } else {
            remote
        }
    }
}

/// The layout a process not told one takes, from its read of what `table` records.
fn layout_from_record(
    table: &str,
    read: Result<Option<KeyLayout>, crate::error::StoreError>,
) -> Result<KeyLayout, Error> {
    match read {
        Ok(Some(layout)) => Ok(layout),
        // Made before tables recorded their layout: v1, as its processes always ran.
        Ok(None) => Ok(KeyLayout::V1),
        // No table yet: v2, which this process's `create_table` then records.
        Err(error) if error.kind == StoreErrorKind::TableMissing => Ok(KeyLayout::V2),
        // A role from before tables recorded their layout (its policy scoped to its
        // types' keys) on a table from then: v1, as it always ran. Said, not failed, so
        // that upgrading the code alone does not stop such a deployment.
        Err(error) if error.kind == StoreErrorKind::AccessDenied => {
            tracing::warn!(
                table,
                %error,
                "IAM refuses reading the key layout the table records (GetItem of its `~table` item): using v1, the layout of tables from before layouts were recorded; set MQLESS_KEY_LAYOUT, or grant the read"
            );
            Ok(KeyLayout::V1)
        }
        Err(error) => Err(Error::Config(format!(
            "reading the key layout table `{table}` records: {error}; set {} (v1, v2 or v1-to-v2) to skip the read, or grant dynamodb:GetItem on its `~table` item",
            KeyLayout::VARIABLE
        ))),
    }
}

impl KeyLayout {
    /// The layout `MQLESS_KEY_LAYOUT` names; the default when it is unset (see
    /// [`Environment::load`], which then goes by what the table records).
    ///
    /// # Errors
    /// [`Error::Config`] when it names no layout.
    pub fn from_env() -> Result<Self, Error> {
        Ok(Self::from_env_if_set()?.unwrap_or_default())
    }

    /// The layout `MQLESS_KEY_LAYOUT` names, or `None` when it is unset or empty.
    ///
    /// # Errors
    /// [`Error::Config`] when it names no layout.
    pub fn from_env_if_set() -> Result<Option<Self>, Error> {
        match std::env::var(Self::VARIABLE) {
            Ok(name) if name.is_empty() => Ok(None),
            Ok(name) => name
                .parse()
                .map(Some)
                .map_err(|reason| Error::Config(format!("{}: {reason}", Self::VARIABLE))),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::Config(format!(
                "{}: not valid UTF-8; set `v1` or `v2`",
                Self::VARIABLE
            ))),
        }
    }
}

/// Reads a required environment variable, or says which one to set.
fn env_var(name: &str, purpose: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| Error::Config(format!("set {name}: {purpose}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;

    #[test]
    fn a_process_not_told_its_layout_goes_by_what_it_reads_of_the_table() {
        let failed = |kind| Err(StoreError::new(kind, "refused"));
        let cases = [
            (Ok(Some(KeyLayout::V2)), Some(KeyLayout::V2)),
            (Ok(Some(KeyLayout::V1ToV2)), Some(KeyLayout::V1ToV2)),
            (Ok(None), Some(KeyLayout::V1)),
            (failed(StoreErrorKind::TableMissing), Some(KeyLayout::V2)),
            (failed(StoreErrorKind::AccessDenied), Some(KeyLayout::V1)),
            (failed(StoreErrorKind::Unavailable), None),
            (failed(StoreErrorKind::Throttled), None),
            (failed(StoreErrorKind::Other), None),
        ];
        for (read, expected) in cases {
            let said = format!("{read:?}");
            match (layout_from_record("t", read), expected) {
                (Ok(layout), Some(expected)) => assert_eq!(layout, expected, "{said}"),
                (Err(Error::Config(message)), None) => {
                    assert!(message.contains("MQLESS_KEY_LAYOUT"), "{message}");
                    assert!(message.contains("`t`"), "{message}");
                }
                (other, _) => panic!("{said}: {other:?}"),
            }
        }
    }
}
