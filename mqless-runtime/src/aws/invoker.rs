//! The AWS Lambda invoker: an asynchronous `Event` invoke nudges an actor type's
//! function; an ask uses a synchronous `RequestResponse` invoke, which returns the reply
//! in the response when that invocation produced it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client;
use base64::Engine;

use super::payload::{Invocation, InvocationResult};
use crate::error::{Error, InvokeError};
use crate::id::{ActorType, Address, MessageId};
use crate::invoke::Invoker;
use crate::BoxFuture;

/// Which Lambda function runs each actor type: by default the actor type's name, after
/// an optional prefix; explicit entries override it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionNames {
    prefix: String,
    explicit: HashMap<ActorType, String>,
}

impl FunctionNames {
    /// Functions named `<prefix><actor type>`.
    ///
    /// # Errors
    /// [`Error::Config`] when the prefix holds characters a function name cannot.
    pub fn with_prefix(prefix: impl Into<String>) -> Result<Self, Error> {
        let prefix = prefix.into();
        if prefix.len() > 32
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Config(format!(
                "function name prefix {prefix:?} is invalid: use up to 32 ASCII letters, digits, `-` or `_`"
            )));
        }
        Ok(Self {
            prefix,
            explicit: HashMap::new(),
        })
    }

    /// Runs `actor_type` on function `function` (a name, a partial ARN or an ARN).
    ///
    /// # Errors
    /// [`Error::Config`] for an empty or over-long function name, or one with whitespace.
    pub fn set(
        &mut self,
        actor_type: ActorType,
        function: impl Into<String>,
    ) -> Result<&mut Self, Error> {
        let function = function.into();
        if function.is_empty()
            || function.len() > 170
            || function
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::Config(format!(
                "function name {function:?} for actor type `{actor_type}` is invalid: use a function name or ARN"
            )));
        }
        self.explicit.insert(actor_type, function);
        Ok(self)
    }

    /// From `MQLESS_FUNCTION_PREFIX` and `MQLESS_FUNCTIONS` (`Type=function,Type2=function2`).
    ///
    /// # Errors
    /// [`Error::Config`] when either is malformed.
    pub fn from_env() -> Result<Self, Error> {
        let mut names =
            Self::with_prefix(std::env::var("MQLESS_FUNCTION_PREFIX").unwrap_or_default())?;
        if let Ok(list) = std::env::var("MQLESS_FUNCTIONS") {
            for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (actor_type, function) = entry.split_once('=').ok_or_else(|| {
                    Error::Config(format!(
                        "MQLESS_FUNCTIONS entry {entry:?} is not `ActorType=function-name`"
                    ))
                })?;
                names.set(ActorType::new(actor_type.trim())?, function.trim())?;
            }
        }
        Ok(names)
    }

    /// Whether `actor_type` has a function: always with a prefix (the function is
    /// `<prefix><type>`) or with no explicit names at all (the function is the type's
    /// name); once `MQLESS_FUNCTIONS` names some types without a prefix, only those.
    ///
    /// # Errors
    /// [`Error::NoHost`] naming the settings to change.
    pub fn check(&self, actor_type: &ActorType) -> Result<(), Error> {
        if !self.prefix.is_empty()
            || self.explicit.is_empty()
            || self.explicit.contains_key(actor_type)
        {
            return Ok(());
        }
        let mut named: Vec<&str> = self.explicit.keys().map(ActorType::as_str).collect();
        named.sort_unstable();
        Err(Error::NoHost {
            actor_type: actor_type.to_string(),
            fix: format!(
                "MQLESS_FUNCTIONS names functions for {} only; add `{actor_type}=<function name>` to it (or set MQLESS_FUNCTION_PREFIX)",
                named.join(", ")
            ),
        })
    }

    /// The types named explicitly (`MQLESS_FUNCTIONS`) and their functions, by type.
    #[must_use]
    pub fn named(&self) -> Vec<(&ActorType, &str)> {
        let mut named: Vec<_> = self
            .explicit
            .iter()
            .map(|(actor_type, function)| (actor_type, function.as_str()))
            .collect();
        named.sort_unstable();
        named
    }

    /// The prefix of the functions of types not named explicitly (may be empty).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The function of `actor_type`.
    #[must_use]
    pub fn function_for(&self, actor_type: &ActorType) -> String {
        self.explicit
            .get(actor_type)
            .cloned()
            .unwrap_or_else(|| format!("{}{actor_type}", self.prefix))
    }
}

/// Wakes actors by invoking their Lambda functions.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    client: Client,
    functions: FunctionNames,
    /// In a handler: nudges run as tasks, awaited (up to a grace period) by
    /// [`LambdaInvoker::flush`] before the invocation answers.
    detached: Option<Arc<Mutex<Vec<JoinHandle<()>>>>>,
}

impl LambdaInvoker {
    /// An invoker over `client` that maps actor types to functions with `functions`.
    #[must_use]
    pub fn new(client: Client, functions: FunctionNames) -> Self {
        Self {
            client,
            functions,
            detached: None,
        }
    }

    /// This invoker for use inside a handler: a nudge returns at once and its invoke runs
    /// as a task; call [`LambdaInvoker::flush`] before answering the invocation. An
    /// `Event` invoke returns in milliseconds on AWS, but cargo-lambda's emulator runs it
    /// synchronously and one invocation per function at a time, so a handler that waited
    /// for a nudge of its own function would wait for itself.
    #[must_use]
    pub fn detached(mut self) -> Self {
        self.detached = Some(Arc::default());
        self
    }

    /// Waits up to `grace` for the nudges started so far. Nudges still running afterwards
    /// keep running in the background; if the process is frozen first, the messages stay
    /// queued for the next nudge.
    pub async fn flush(&self, grace: Duration) {
        let Some(pending) = &self.detached else {
            return;
        };
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *pending.lock().unwrap_or_else(PoisonError::into_inner));
        let deadline = tokio::time::Instant::now() + grace;
        for task in tasks {
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                break;
            }
        }
    }

    /// Invokes the function of `invocation`'s actor; `Event` returns at once (on AWS),
    /// `RequestResponse` waits for the drain and returns its result.
    ///
    /// # Errors
    /// When the invoke fails or the function reports an error.
    pub async fn invoke(
        &self,
        actor_type: &ActorType,
        invocation: &Invocation,
        wait: bool,
    ) -> Result<Option<InvocationResult>, InvokeError> {
        let function = self.functions.function_for(actor_type);
        let fail = |message: String| InvokeError {
            actor_type: actor_type.to_string(),
            message,
        };
        let payload = serde_json::to_vec(invocation)
            .map_err(|e| fail(format!("could not encode the payload: {e}")))?;
        let body = self
            .invoke_function(&function, payload, wait)
            .await
            .map_err(fail)?;
        if !wait {
            return Ok(None);
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| fail(format!("function `{function}` answered something that is not an MQLess result ({e}); is it an MQLess handler?")))
    }

    /// Invokes `function` by name with `payload`; its answer (empty for `Event`,
    /// `wait = false`). For tools that invoke what is not an actor type's function (the
    /// sweeper, say).
    ///
    /// # Errors
    /// What failed and what to check: the function's own error when it ran and failed,
    /// or the name, endpoint and permission when it could not be invoked.
    pub async fn invoke_function(
        &self,
        function: &str,
        payload: Vec<u8>,
        wait: bool,
    ) -> Result<Vec<u8>, String> {
        let out = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(if wait {
                InvocationType::RequestResponse
            } else {
                InvocationType::Event
            })
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| invoke_failure(function, &e))?;
        let body = out
            .payload()
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_default();
        if let Some(kind) = out.function_error() {
            return Err(format!(
                "function `{function}` failed ({kind}): {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body)
    }
}

/// Why invoking `function` failed, and what to check. A function that ran and failed
/// (cargo-lambda's emulator answers that as an HTTP 500 with the function's error) is
/// reported with its own message, not as a wrong name or permission.
fn invoke_failure(
    function: &str,
    error: &aws_sdk_lambda::error::SdkError<aws_sdk_lambda::operation::invoke::InvokeError>,
) -> String {
    // The function's own `{"errorType", "errorMessage"}`, when the answer carries one.
    let body = error.raw_response().and_then(|raw| raw.body().bytes());
    if let Some(failure) = body.and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok()) {
        if let Some(message) = failure.get("errorMessage").and_then(|m| m.as_str()) {
            let kind = failure
                .get("errorType")
                .and_then(|t| t.as_str())
                .unwrap_or("error");
            return format!("function `{function}` failed ({kind}): {message}");
        }
    }
    format!("invoking function `{function}` failed: {}; check the function name (MQLESS_FUNCTIONS / MQLESS_FUNCTION_PREFIX), AWS_ENDPOINT_URL_LAMBDA and lambda:InvokeFunction permission", crate::error::chain(error))
}

impl Invoker for LambdaInvoker {
    fn can_wake(&self, actor_type: &ActorType) -> Result<(), Error> {
        self.functions.check(actor_type)
    }

    fn nudge<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<(), InvokeError>> {
        Box::pin(async move {
            let invocation = Invocation::drain(address);
            match &self.detached {
                None => self
                    .invoke(address.actor_type(), &invocation, false)
                    .await
                    .map(|_| ()),
                Some(pending) => {
                    let (invoker, actor_type) = (self.clone(), address.actor_type().clone());
                    let task = tokio::spawn(async move {
                        if let Err(error) = invoker.invoke(&actor_type, &invocation, false).await {
                            tracing::warn!(actor_type = %actor_type, actor = %invocation.actor, %error, "wake-up failed; the messages wait for the next one or a sweep");
                        }
                    });
                    pending
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(task);
                    Ok(())
                }
            }
        })
    }

    fn wake_for_reply<'a>(
        &'a self,
        address: &'a Address,
        message: MessageId,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, InvokeError>> {
        Box::pin(async move {
            let invocation = Invocation {
                reply_to: Some(message.to_string()),
                ..Invocation::drain(address)
            };
            let result = self.invoke(address.actor_type(), &invocation, true).await?;
            match result.and_then(|r| r.reply) {
                Some(reply) => base64::engine::general_purpose::STANDARD
                    .decode(reply)
                    .map(Some)
                    .map_err(|e| InvokeError {
                        actor_type: address.actor_type().to_string(),
                        message: format!("the reply in the invoke response is not base64: {e}"),
                    }),
                None => Ok(None),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_default_to_the_prefixed_type_and_can_be_set() {
        let account = ActorType::new("Account").unwrap();
        let mut names = FunctionNames::with_prefix("prod-").unwrap();
        assert_eq!(names.function_for(&account), "prod-Account");
        names
            .set(
                account.clone(),
                "arn:aws:lambda:us-east-1:123456789012:function:bank",
            )
            .unwrap();
        assert_eq!(
            names.function_for(&account),
            "arn:aws:lambda:us-east-1:123456789012:function:bank"
        );
        assert!(FunctionNames::with_prefix("bad prefix").is_err());
        // A prefix, or no names at all: every type has a function.
        let order = ActorType::new("Order").unwrap();
        assert!(names.check(&order).is_ok());
        assert!(FunctionNames::default().check(&order).is_ok());
        // Names without a prefix: only the named types.
        let mut strict = FunctionNames::default();
        strict.set(account.clone(), "bank").unwrap();
        assert!(strict.check(&account).is_ok());
        let error = strict.check(&order).unwrap_err().to_string();
        assert!(
            error.contains("actor type `Order`") && error.contains("add `Order=<function name>`"),
            "{error}"
        );
        assert!(names.set(account, "two words").is_err());
    }
}
