//! Mapping SDK errors to store errors whose messages say what to do.

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};

use crate::error::{StoreError, StoreErrorKind};

/// A request the SDK refused to build: a bug in MQLess, not a user error.
pub(super) fn build_error(error: BuildError) -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        format!("could not build a DynamoDB request: {error}"),
    )
}

/// The output of a conditional write, or `None` when its condition failed.
pub(super) fn conditional<O, E, R>(
    table: &str,
    result: Result<O, SdkError<E, R>>,
) -> Result<Option<O>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(None),
        Err(error) => Err(from_sdk(table, error)),
    }
}

/// Maps an SDK error on `table` to a store error whose message says what to do.
pub(super) fn from_sdk<E, R>(table: &str, error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => StoreError::new(
            StoreErrorKind::Unavailable,
            format!("could not reach DynamoDB ({}); check the network, AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL and the region", crate::error::chain(&error)),
        ),
        _ => {
            let code = error.code().unwrap_or("Unknown");
            let message = error.message().unwrap_or("no message").to_owned();
            let (kind, advice) = match code {
                "ResourceNotFoundException" => (
                    StoreErrorKind::TableMissing,
                    format!("table `{table}` does not exist; create it with `DynamoStore::create_table` (see docs/guide/aws.md, \"Deploy to AWS\") or point MQLESS_TABLE at the right table"),
                ),
                "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded" => {
                    (StoreErrorKind::Throttled, "DynamoDB is throttling; retry with backoff".to_owned())
                }
                // `InternalFailure`: AWS's common 500 ("The request processing has
                // failed because of an unknown error"); DynamoDB Local answers it while
                // it backfills a new index under load.
                "InternalServerError" | "InternalFailure" | "ServiceUnavailable" => {
                    (StoreErrorKind::Unavailable, "DynamoDB failed internally; the write may or may not have happened".to_owned())
                }
                "UnrecognizedClientException" | "InvalidSignatureException" | "MissingAuthenticationTokenException" => (
                    StoreErrorKind::Other,
                    "check the AWS credentials (DynamoDB Local accepts any key id of letters and digits)".to_owned(),
                ),
                "AccessDeniedException" => (
                    StoreErrorKind::AccessDenied,
                    format!("grant this role the DynamoDB actions MQLess uses on table `{table}` (see docs/guide/aws.md for the IAM policies)"),
                ),
                "TransactionConflictException" => (StoreErrorKind::TransactionConflict, "retry".to_owned()),
                "ValidationException" if message.contains("Transaction") && message.contains("size") => {
                    (StoreErrorKind::ItemTooLarge, "the transaction would exceed DynamoDB's 4 MB limit".to_owned())
                }
                "ValidationException" if message.contains("transactItems") && message.contains("100") => {
                    (StoreErrorKind::ItemTooLarge, "a transaction holds at most 100 items".to_owned())
                }
                "ValidationException" if message.contains("size") => {
                    (StoreErrorKind::ItemTooLarge, "an item would exceed DynamoDB's 400 KB limit".to_owned())
                }
                _ => (StoreErrorKind::Other, "check the table, the IAM policy and the request".to_owned()),
            };
            StoreError::new(kind, format!("{code}: {message}; {advice}"))
        }
    }
}
