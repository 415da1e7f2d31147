//! Delivering emissions (`Context::emit`) to SQS queues, SNS topics and EventBridge
//! buses: which target each channel name stands for ([`Channels`], from
//! `MQLESS_CHANNELS`), and the [`Emitter`] that sends to them ([`AwsEmitter`]).
//!
//! | target | what is sent | id (the emission's) |
//! |---|---|---|
//! | SQS queue (its URL or ARN) | the payload as text (`payload_kinds::encode_text`) | message attribute `mqless-emission`; FIFO queues (`.fifo`): the deduplication id, the emitting actor the message group |
//! | SNS topic (its ARN) | the same | the same, for FIFO topics too |
//! | EventBridge bus (its ARN) | an event: `Source` `mqless.<actor type>`, `DetailType` the channel, `Detail` the payload's object (`payload_kinds::event_object`) | `Resources`: `mqless:<actor address>/<id>` |
//!
//! Every target also gets the sender (`mqless-from`, or the resource). Errors: throttling,
//! server errors and an unreachable endpoint are [`EmitError::Unavailable`] (the drain
//! stops; the next delivers); anything else the service answers (no such queue, no
//! permission, a payload too large or malformed) is [`EmitError::Refused`], a dead letter.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};

use super::payload_kinds::{encode_text, event_object};
use crate::error::Error;
use crate::events::{check_channel, Emission, EmitError, Emitter};
use crate::id::Address;
use crate::BoxFuture;

/// The largest SQS message or SNS notification (256 KiB), and EventBridge entry.
pub const MAX_TARGET_BYTES: usize = 256 * 1024;

/// What a channel name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// An SQS queue, by its URL or its ARN (a FIFO queue's ends in `.fifo`); an ARN is
    /// resolved to the URL once, with `GetQueueUrl`.
    Sqs {
        /// The queue's URL or ARN.
        queue: String,
    },
    /// An SNS topic, by its ARN (a FIFO topic's ends in `.fifo`).
    Sns {
        /// The topic's ARN.
        arn: String,
    },
    /// An EventBridge event bus, by its ARN.
    EventBridge {
        /// The bus's ARN.
        arn: String,
    },
}

impl Target {
    /// The target `text` names: an SQS queue URL (`https://..`) or ARN
    /// (`arn:<partition>:sqs:..`), an SNS topic ARN (`arn:<partition>:sns:..`) or an
    /// EventBridge bus ARN (`arn:<partition>:events:..:event-bus/..`).
    ///
    /// # Errors
    /// [`Error::Config`] saying what a target looks like.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let service = text
            .strip_prefix("arn:")
            .and_then(|rest| rest.split(':').nth(1));
        match service {
            Some("sqs") if text.split(':').count() == 6 => Ok(Self::Sqs { queue: text.into() }),
            Some("sns") => Ok(Self::Sns { arn: text.into() }),
            Some("events") if text.contains(":event-bus/") => {
                Ok(Self::EventBridge { arn: text.into() })
            }
            None if text.starts_with("https://") || text.starts_with("http://") => {
                Ok(Self::Sqs { queue: text.into() })
            }
            _ => Err(Error::Config(format!(
                "channel target {text:?} is none of: an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>) or ARN (arn:aws:sqs:<region>:<account>:<queue>), an SNS topic ARN (arn:aws:sns:..), an EventBridge bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)"
            ))),
        }
    }

    /// Whether the target keeps order and deduplicates (an SQS or SNS FIFO target).
    #[must_use]
    pub fn is_fifo(&self) -> bool {
        match self {
            Self::Sqs { queue } => queue.ends_with(".fifo"),
            Self::Sns { arn } => arn.ends_with(".fifo"),
            Self::EventBridge { .. } => false,
        }
    }
}

/// The target of each channel name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Channels(BTreeMap<String, Target>);

impl Channels {
    /// No channels.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// These channels, with `name` standing for `target`.
    ///
    /// # Errors
    /// [`Error::InvalidChannel`] for an invalid name.
    pub fn with(mut self, name: &str, target: Target) -> Result<Self, Error> {
        check_channel(name)?;
        self.0.insert(name.to_owned(), target);
        Ok(self)
    }

    /// Reads `name=target` entries separated by commas, as `MQLESS_CHANNELS` holds them.
    ///
    /// ```
    /// use mqless_runtime::aws::channels::{Channels, Target};
    ///
    /// let channels = Channels::parse(
    ///     "shipping=arn:aws:sns:eu-west-1:123456789012:shipping, \
    ///      audit=https://sqs.eu-west-1.amazonaws.com/123456789012/audit.fifo",
    /// )?;
    /// assert!(channels.target("audit").unwrap().is_fifo());
    /// assert_eq!(
    ///     channels.target("shipping"),
    ///     Some(&Target::Sns { arn: "arn:aws:sns:eu-west-1:123456789012:shipping".into() })
    /// );
    /// # Ok::<(), mqless_runtime::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] naming the entry that is not `name=target`, or its target;
    /// [`Error::InvalidChannel`] for an invalid name.
    pub fn parse(list: &str) -> Result<Self, Error> {
        let mut channels = Self::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, target) = entry.split_once('=').ok_or_else(|| {
                Error::Config(format!(
                    "MQLESS_CHANNELS entry {entry:?} is not `channel=<SQS queue URL | SNS topic ARN | EventBridge bus ARN>`"
                ))
            })?;
            channels = channels.with(name.trim(), Target::parse(target)?)?;
        }
        Ok(channels)
    }

    /// The channels `MQLESS_CHANNELS` names (none when it is unset).
    ///
    /// # Errors
    /// As [`Channels::parse`].
    pub fn from_env() -> Result<Self, Error> {
        std::env::var("MQLESS_CHANNELS").map_or_else(|_| Ok(Self::new()), |list| Self::parse(&list))
    }

    /// The target of channel `name`.
    #[must_use]
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.0.get(name)
    }
}

/// Delivers emissions to the SQS queues, SNS topics and EventBridge buses of
/// [`Channels`], through the AWS SDK (`AWS_ENDPOINT_URL_SQS` and the like point it
/// elsewhere, as at moto's server).
#[derive(Debug)]
pub struct AwsEmitter {
    channels: Channels,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    eventbridge: aws_sdk_eventbridge::Client,
    /// The URL of each SQS queue named by its ARN, once resolved.
    queue_urls: Mutex<BTreeMap<String, String>>,
}

impl AwsEmitter {
    /// An emitter to `channels`, with the SDK configuration `sdk`.
    #[must_use]
    pub fn new(sdk: &aws_config::SdkConfig, channels: Channels) -> Self {
        Self {
            channels,
            sqs: aws_sdk_sqs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            eventbridge: aws_sdk_eventbridge::Client::new(sdk),
            queue_urls: Mutex::default(),
        }
    }

    /// The URL of `queue` (a URL already, or an ARN, resolved once with `GetQueueUrl`).
    async fn queue_url(&self, channel: &str, queue: &str) -> Result<String, EmitError> {
        let Some(arn) = queue.strip_prefix("arn:") else {
            return Ok(queue.to_owned());
        };
        if let Some(url) = lock(&self.queue_urls).get(queue) {
            return Ok(url.clone());
        }
        // arn:<partition>:sqs:<region>:<account>:<name>
        let parts: Vec<&str> = arn.split(':').collect();
        let (account, name) = (parts[3], parts[4]);
        let out = self
            .sqs
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|e| classify(channel, e))?;
        let url = out.queue_url().unwrap_or_default().to_owned();
        lock(&self.queue_urls).insert(queue.to_owned(), url.clone());
        Ok(url)
    }

    async fn deliver(&self, from: &Address, emission: &Emission) -> Result<(), EmitError> {
        let channel = emission.channel.as_str();
        let refused = |reason: String| EmitError::Refused {
            channel: channel.to_owned(),
            reason,
        };
        let Some(target) = self.channels.target(channel) else {
            return Err(refused(format!(
                "no target is configured for it here: add `{channel}=<SQS queue URL | SNS topic ARN | EventBridge bus ARN>` to MQLESS_CHANNELS"
            )));
        };
        let (id, sender) = (emission.id.to_string(), from.to_string());
        match target {
            Target::Sqs { queue } => {
                let url = self.queue_url(channel, queue).await?;
                let body =
                    sized(encode_text(&emission.payload).map_err(refused)?).map_err(refused)?;
                let mut send = self
                    .sqs
                    .send_message()
                    .queue_url(&url)
                    .message_body(body)
                    .message_attributes("mqless-emission", sqs_string(&id).map_err(refused)?)
                    .message_attributes("mqless-from", sqs_string(&sender).map_err(refused)?);
                if target.is_fifo() {
                    send = send.message_group_id(&sender).message_deduplication_id(&id);
                }
                send.send()
                    .await
                    .map(drop)
                    .map_err(|e| classify(channel, e))
            }
            Target::Sns { arn } => {
                let message =
                    sized(encode_text(&emission.payload).map_err(refused)?).map_err(refused)?;
                let mut publish = self
                    .sns
                    .publish()
                    .topic_arn(arn)
                    .message(message)
                    .message_attributes("mqless-emission", sns_string(&id).map_err(refused)?)
                    .message_attributes("mqless-from", sns_string(&sender).map_err(refused)?);
                if target.is_fifo() {
                    publish = publish
                        .message_group_id(&sender)
                        .message_deduplication_id(&id);
                }
                publish
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| classify(channel, e))
            }
            Target::EventBridge { arn } => {
                let detail = event_object(&emission.payload).map_err(refused)?;
                let detail =
                    sized(serde_json::Value::Object(detail).to_string()).map_err(refused)?;
                let entry = PutEventsRequestEntry::builder()
                    .event_bus_name(arn)
                    .source(format!("mqless.{}", from.actor_type()))
                    .detail_type(channel)
                    .detail(detail)
                    .resources(format!("mqless:{sender}/{id}"))
                    .build();
                let out = self
                    .eventbridge
                    .put_events()
                    .entries(entry)
                    .send()
                    .await
                    .map_err(|e| classify(channel, e))?;
                put_events_outcome(channel, &out)
            }
        }
    }
}

/// What a `PutEvents` of one entry answered: EventBridge reports an entry it did not
/// take in the answer of a call that succeeded, with its own error code.
fn put_events_outcome(channel: &str, out: &PutEventsOutput) -> Result<(), EmitError> {
    let entry = out.entries().first();
    match entry.and_then(|e| e.error_code()) {
        None if out.failed_entry_count() == 0 => Ok(()),
        code => {
            let code = code.unwrap_or("Unknown");
            let message = entry
                .and_then(|e| e.error_message())
                .unwrap_or("no message");
            Err(classify_code(channel, code, message))
        }
    }
}

impl Emitter for AwsEmitter {
    fn emit<'a>(
        &'a self,
        from: &'a Address,
        emission: &'a Emission,
    ) -> BoxFuture<'a, Result<(), EmitError>> {
        Box::pin(self.deliver(from, emission))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `text`, if a target takes that many bytes.
fn sized(text: String) -> Result<String, String> {
    if text.len() > MAX_TARGET_BYTES {
        return Err(format!(
            "the payload is {} bytes as sent, over the targets' {MAX_TARGET_BYTES}-byte limit; emit a reference to data stored elsewhere",
            text.len()
        ));
    }
    Ok(text)
}

fn sqs_string(value: &str) -> Result<aws_sdk_sqs::types::MessageAttributeValue, String> {
    aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| format!("could not build an SQS message attribute: {e}"))
}

fn sns_string(value: &str) -> Result<aws_sdk_sns::types::MessageAttributeValue, String> {
    aws_sdk_sns::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| format!("could not build an SNS message attribute: {e}"))
}

/// An SDK error, as the emission's fate: what the service refuses is for good;
/// throttling, server errors and what never reached it are for now.
fn classify<E, R>(channel: &str, error: SdkError<E, R>) -> EmitError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::ServiceError(_) => classify_code(
            channel,
            error.code().unwrap_or("Unknown"),
            error.message().unwrap_or("no message"),
        ),
        _ => EmitError::Unavailable {
            channel: channel.to_owned(),
            reason: format!(
                "could not reach the target ({}); check the network and AWS_ENDPOINT_URL_SQS / _SNS / _EVENTBRIDGE",
                crate::error::chain(&error)
            ),
        },
    }
}

/// A service's error `code`, as the emission's fate.
fn classify_code(channel: &str, code: &str, message: &str) -> EmitError {
    let transient = code.contains("Throttl")
        || code.contains("Internal")
        || matches!(
            code,
            "RequestThrottled" | "ServiceUnavailable" | "KMSThrottling"
        );
    let reason = format!("{code}: {message}");
    if transient {
        EmitError::Unavailable {
            channel: channel.to_owned(),
            reason,
        }
    } else {
        EmitError::Refused {
            channel: channel.to_owned(),
            reason: format!("{reason}; check that the target exists and that this function's role may send to it (`mqless template` grants each channel it is told of)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;

    /// EventBridge's per-entry failures (moto's server never reports one): throttling
    /// and internal failures wait; anything else is refused for good, with the code.
    #[test]
    fn eventbridge_entries_it_did_not_take_are_classified() {
        let answer = |entry: PutEventsResultEntry, failed: i32| {
            PutEventsOutput::builder()
                .entries(entry)
                .failed_entry_count(failed)
                .build()
        };
        let taken = PutEventsResultEntry::builder().event_id("e-1").build();
        assert!(put_events_outcome("bus", &answer(taken, 0)).is_ok());
        let failed = |code: &str| {
            let entry = PutEventsResultEntry::builder()
                .error_code(code)
                .error_message("what EventBridge said")
                .build();
            put_events_outcome("bus", &answer(entry, 1)).unwrap_err()
        };
        for code in ["ThrottlingException", "InternalFailure"] {
            assert!(
                matches!(failed(code), EmitError::Unavailable { .. }),
                "{code}"
            );
        }
        for code in [
            "AccessDeniedException",
            "NotAuthorizedForSourceException",
            "MalformedDetail",
        ] {
            match failed(code) {
                EmitError::Refused { channel, reason } => {
                    assert_eq!(channel, "bus");
                    assert!(
                        reason.starts_with(&format!("{code}: what EventBridge said")),
                        "{reason}"
                    );
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        // A failed count with no entry to say why is still a failure.
        let silent = PutEventsOutput::builder().failed_entry_count(1).build();
        assert!(matches!(
            put_events_outcome("bus", &silent),
            Err(EmitError::Refused { .. })
        ));
    }

    #[test]
    fn targets_are_told_apart_by_their_form() {
        let fifo = Target::parse("https://sqs.eu-west-1.amazonaws.com/1/orders.fifo").unwrap();
        assert!(fifo.is_fifo());
        assert!(matches!(
            Target::parse("http://127.0.0.1:5000/123456789012/q").unwrap(),
            Target::Sqs { .. }
        ));
        assert!(matches!(
            Target::parse("arn:aws-cn:sns:cn-north-1:1:t").unwrap(),
            Target::Sns { .. }
        ));
        assert!(matches!(
            Target::parse("arn:aws:events:eu-west-1:1:event-bus/default").unwrap(),
            Target::EventBridge { .. }
        ));
        assert!(matches!(
            Target::parse("arn:aws:sqs:eu-west-1:123456789012:q").unwrap(),
            Target::Sqs { .. }
        ));
        for bad in [
            "arn:aws:sqs:eu-west-1:q",
            "arn:aws:events:eu-west-1:1:rule/r",
            "orders",
        ] {
            let error = Target::parse(bad).unwrap_err().to_string();
            assert!(error.contains("SQS queue URL"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_channel_list_says_which_entry_is_wrong() {
        let error = Channels::parse("shipping").unwrap_err().to_string();
        assert!(error.contains("\"shipping\""), "{error}");
        let error = Channels::parse("bad name=https://x/q")
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid channel name"), "{error}");
        assert_eq!(Channels::parse(" , ").unwrap(), Channels::new());
    }

    #[test]
    fn throttling_and_server_errors_are_for_now_the_rest_for_good() {
        for code in [
            "ThrottlingException",
            "Throttling",
            "InternalFailure",
            "InternalException",
        ] {
            assert!(
                matches!(classify_code("c", code, "m"), EmitError::Unavailable { .. }),
                "{code}"
            );
        }
        for code in [
            "AWS.SimpleQueueService.NonExistentQueue",
            "NotFound",
            "AuthorizationError",
            "InvalidParameter",
        ] {
            assert!(
                matches!(classify_code("c", code, "m"), EmitError::Refused { .. }),
                "{code}"
            );
        }
    }
}
