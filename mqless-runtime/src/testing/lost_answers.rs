//! Faults below the store: answers lost between DynamoDB and the AWS SDK. The request
//! reaches DynamoDB and takes effect; then its answer is replaced by a 500, as when a
//! connection drops or a load balancer fails after the write, so the SDK retries a
//! request that already landed, and the store sees only the retry's answer. The fault
//! layer above the store ([`FaultyStore`](super::FaultyStore)) cannot make this: the SDK
//! hides the first attempt.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

use super::Rng;

/// What DynamoDB answers for an internal error, which the SDK retries.
const INTERNAL_ERROR: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected by mqless::testing::LostAnswers: the request took effect, its answer was lost"}"#;

/// The DynamoDB operations that write: the ones whose lost answers matter.
const WRITES: [&str; 5] = [
    "UpdateItem",
    "PutItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];

/// An interceptor for the DynamoDB client that loses the answers of writes that took
/// effect, for [`DynamoStore`](crate::aws::dynamodb::DynamoStore) tests against DynamoDB
/// Local. Add it to the client's config; clones share their settings and counts.
///
/// ```no_run
/// # async fn example() {
/// use mqless_runtime::aws::aws_sdk_dynamodb;
/// use mqless_runtime::testing::LostAnswers;
/// let lost = LostAnswers::new();
/// let config = mqless_runtime::aws::load_config().await;
/// let client = aws_sdk_dynamodb::Client::from_conf(
///     aws_sdk_dynamodb::config::Builder::from(&config)
///         .interceptor(lost.clone())
///         .build(),
/// );
/// lost.lose_next(1); // the next write lands, and the SDK retries it
/// # let _ = client; }
/// ```
#[derive(Debug, Clone, Default)]
pub struct LostAnswers {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Writes to let through before losing `next` answers.
    skip: AtomicU64,
    next: AtomicU64,
    random: Mutex<Option<(Rng, u64)>>,
    /// The length of the outages random losses start, if they do.
    outage: AtomicU64,
    /// Lost answers wait for [`LostAnswers::release_held`].
    holding: AtomicBool,
    lost: AtomicU64,
}

impl LostAnswers {
    /// Loses no answer until told.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Loses the answers of the next `n` writes.
    pub fn lose_next(&self, n: u64) {
        self.lose_after(0, n);
    }

    /// Lets `skip` writes through, then loses the answers of the `n` after them.
    pub fn lose_after(&self, skip: u64, n: u64) {
        self.shared.skip.store(skip, Ordering::SeqCst);
        self.shared.next.store(n, Ordering::SeqCst);
    }

    /// Loses each write's answer with probability `per_mille / 1000`, seeded.
    pub fn random(&self, seed: u64, per_mille: u64) {
        *self.plan() = Some((Rng(seed), per_mille));
        self.shared.outage.store(0, Ordering::SeqCst);
    }

    /// As [`Self::random`], and one loss in two starts an outage: the answers of the
    /// next `length - 1` writes are lost too. An outage longer than the SDK's retries
    /// fails a write that landed, so the store sees it fail: an operation of several
    /// requests (a cleanup) stops after any of them, as when its process dies.
    pub fn random_with_outages(&self, seed: u64, per_mille: u64, length: u64) {
        *self.plan() = Some((Rng(seed), per_mille));
        self.shared.outage.store(length, Ordering::SeqCst);
    }

    /// Holds each answer lost from now on until [`Self::release_held`], as a timeout
    /// would: the request took effect long before its sender hears of it, and the actor
    /// may run on meanwhile. The wait blocks the request's thread (an interceptor cannot
    /// await), outside the runtime's worker on a multi-threaded runtime, so that other
    /// tasks go on; it gives up after 30 s, so a test that forgets to release still ends.
    pub fn hold_lost_answers(&self) {
        self.shared.holding.store(true, Ordering::SeqCst);
    }

    /// Lets the held answers arrive, and holds no more.
    pub fn release_held(&self) {
        self.shared.holding.store(false, Ordering::SeqCst);
    }

    /// Loses no more answers.
    pub fn stop(&self) {
        self.shared.next.store(0, Ordering::SeqCst);
        *self.plan() = None;
    }

    /// Answers lost so far.
    #[must_use]
    pub fn lost(&self) -> u64 {
        self.shared.lost.load(Ordering::SeqCst)
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Option<(Rng, u64)>> {
        self.shared
            .random
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits while lost answers are held (see [`Self::hold_lost_answers`]).
    fn wait_while_held(&self) {
        let wait = || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while self.shared.holding.load(Ordering::SeqCst) && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        };
        if !self.shared.holding.load(Ordering::SeqCst) {
            return;
        }
        match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }
    }

    /// Whether to lose this answer.
    fn roll(&self) -> bool {
        let countdown = |n: u64| n.checked_sub(1);
        if self.shared.next.load(Ordering::SeqCst) > 0
            && self
                .shared
                .skip
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, countdown)
                .is_ok()
        {
            return false;
        }
        let planned = self
            .shared
            .next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if planned {
            return true;
        }
        let outage = self.shared.outage.load(Ordering::SeqCst);
        let mut plan = self.plan();
        let Some((rng, per_mille)) = plan.as_mut() else {
            return false;
        };
        if rng.below(1000) >= *per_mille {
            return false;
        }
        if outage > 1 && rng.below(2) == 0 {
            self.shared.next.store(outage - 1, Ordering::SeqCst);
        }
        true
    }
}

/// The DynamoDB operation a request makes (`PutItem`, `Query`), from its target header.
pub(super) fn dynamodb_operation<'a>(
    context: &'a BeforeTransmitInterceptorContextRef<'_>,
) -> Option<&'a str> {
    let target = context.request().headers().get("x-amz-target")?;
    target.rsplit('.').next()
}

/// Marks an operation that writes, in its config bag.
#[derive(Debug, Clone)]
struct Write;

impl Storable for Write {
    type Storer = StoreReplace<Self>;
}

impl Intercept for LostAnswers {
    fn name(&self) -> &'static str {
        "MQLessLostAnswers"
    }

    /// Notes whether the request writes: the request is gone by the time its answer is.
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let write = dynamodb_operation(context).is_some_and(|op| WRITES.contains(&op));
        if write {
            cfg.interceptor_state().store_put(Write);
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let write = cfg.load::<Write>().is_some();
        if !write || !context.response().status().is_success() || !self.roll() {
            return Ok(());
        }
        self.shared.lost.fetch_add(1, Ordering::SeqCst);
        self.wait_while_held();
        let response = context.response_mut();
        *response.status_mut() = 500u16.try_into()?;
        *response.body_mut() = SdkBody::from(INTERNAL_ERROR);
        Ok(())
    }
}
