//! Races below the store, made on purpose: a read answered as if it ran before the
//! writes that raced it. Two acquirers that both read an actor as new, then both write,
//! are a race a test can only hope for with real concurrency (and on two busy cores it
//! rarely comes); a read answered "nothing there" while a rival's lease item exists is
//! that race, every time, so the conditional write that must lose is exercised.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// What a query that found nothing answers.
const NOTHING_FOUND: &str = r#"{"Count":0,"Items":[],"ScannedCount":0}"#;

/// An interceptor for the DynamoDB client that answers queries as if they ran before
/// any item of their key was written, for [`DynamoStore`](crate::aws::dynamodb::DynamoStore)
/// tests against DynamoDB Local. Add it to the client's config; clones share their
/// settings and counts.
///
/// ```no_run
/// # async fn example() {
/// use mqless_runtime::aws::aws_sdk_dynamodb;
/// use mqless_runtime::testing::StaleReads;
/// let stale = StaleReads::new();
/// let config = mqless_runtime::aws::load_config().await;
/// let client = aws_sdk_dynamodb::Client::from_conf(
///     aws_sdk_dynamodb::config::Builder::from(&config)
///         .interceptor(stale.clone())
///         .build(),
/// );
/// stale.forget_next(1); // the next query finds nothing, whatever the table holds
/// # let _ = client; }
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaleReads {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    next: AtomicU64,
    forgotten: AtomicU64,
}

impl StaleReads {
    /// Answers every query truly until told.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers the next `n` queries with nothing found.
    pub fn forget_next(&self, n: u64) {
        self.shared.next.store(n, Ordering::SeqCst);
    }

    /// Queries answered with nothing found so far.
    #[must_use]
    pub fn forgotten(&self) -> u64 {
        self.shared.forgotten.load(Ordering::SeqCst)
    }
}

/// Marks a query, in its config bag.
#[derive(Debug, Clone)]
struct Query;

impl Storable for Query {
    type Storer = StoreReplace<Self>;
}

impl Intercept for StaleReads {
    fn name(&self) -> &'static str {
        "MQLessStaleReads"
    }

    /// Notes whether the request is a query: the request is gone by the time its answer is.
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if super::lost_answers::dynamodb_operation(context) == Some("Query") {
            cfg.interceptor_state().store_put(Query);
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let query = cfg.load::<Query>().is_some();
        if !query || !context.response().status().is_success() {
            return Ok(());
        }
        let countdown = |n: u64| n.checked_sub(1);
        if self
            .shared
            .next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, countdown)
            .is_err()
        {
            return Ok(());
        }
        self.shared.forgotten.fetch_add(1, Ordering::SeqCst);
        *context.response_mut().body_mut() = SdkBody::from(NOTHING_FOUND);
        Ok(())
    }
}
