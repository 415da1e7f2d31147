//! Who a client asks as. In key layout v2 the reply to an ask that does not come back in
//! the function's answer (another invocation held the actor) is kept in partition
//! `r/<type>/<id>/<asker>`, and `ClientPolicy` lets a client read `r/*/${aws:userid}`
//! only: its own replies. So the asker a client names must be its IAM `aws:userid`, which
//! STS's `GetCallerIdentity` returns (`UserId`: `AIDA...` for a user, `AROA...:<session>`
//! for a role). A client names any other asker at its own cost: IAM then lets it read
//! none of its replies.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::actor::client::AskerIdentity;
use crate::error::Error;
use crate::BoxFuture;

/// The identity a [`Remote`](super::Remote) in key layout v2 names in its asks: set by
/// `MQLESS_ASKER` (or [`CallerIdentity::fixed`]), else asked of STS once, at the first
/// ask.
///
/// ```
/// use mqless_runtime::aws::CallerIdentity;
///
/// assert!(CallerIdentity::fixed("AROAEXAMPLE:billing-job").is_ok());
/// let refused = CallerIdentity::fixed("r/Counter/c1").unwrap_err().to_string();
/// assert!(refused.contains("MQLESS_ASKER"), "{refused}");
/// ```
pub struct CallerIdentity {
    source: Source,
    resolved: OnceCell<Arc<str>>,
}

enum Source {
    Fixed,
    /// `MQLESS_ASKER`, checked at the first ask (so that building clients cannot fail).
    Variable(String),
    Sts(aws_sdk_sts::Client),
}

impl std::fmt::Debug for CallerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.source, self.resolved.get()) {
            (_, Some(asker)) => write!(f, "CallerIdentity({asker})"),
            (Source::Sts(_), None) => f.write_str("CallerIdentity(from STS, not asked yet)"),
            (Source::Variable(asker), None) => write!(f, "CallerIdentity({asker:?}, unchecked)"),
            (Source::Fixed, None) => f.write_str("CallerIdentity(?)"),
        }
    }
}

impl CallerIdentity {
    /// The variable that names the asker (say, in tests, or where STS is out of reach).
    pub const VARIABLE: &'static str = "MQLESS_ASKER";

    /// Asks as `asker`.
    ///
    /// # Errors
    /// [`Error::Config`] when it cannot name a reply partition (see
    /// [`crate::wire::valid_asker`]).
    pub fn fixed(asker: impl Into<String>) -> Result<Self, Error> {
        let asker = asker.into();
        crate::wire::valid_asker(&asker)
            .map_err(|reason| Error::Config(format!("{}: {reason}", Self::VARIABLE)))?;
        Ok(Self {
            source: Source::Fixed,
            resolved: OnceCell::new_with(Some(asker.into())),
        })
    }

    /// Asks as the caller STS names (`GetCallerIdentity`'s `UserId`), asked once.
    #[must_use]
    pub fn from_sts(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            source: Source::Sts(aws_sdk_sts::Client::new(sdk)),
            resolved: OnceCell::new(),
        }
    }

    /// `MQLESS_ASKER` if it is set (an invalid one fails the first ask, with
    /// [`Error::Config`] naming it), else STS.
    #[must_use]
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Self {
        match std::env::var(Self::VARIABLE) {
            Ok(asker) if !asker.is_empty() => Self {
                source: Source::Variable(asker),
                resolved: OnceCell::new(),
            },
            _ => Self::from_sts(sdk),
        }
    }

    async fn resolve(&self) -> Result<Arc<str>, Error> {
        let sts = match &self.source {
            Source::Sts(sts) => sts,
            Source::Variable(asker) => {
                crate::wire::valid_asker(asker)
                    .map_err(|reason| Error::Config(format!("{}: {reason}", Self::VARIABLE)))?;
                return Ok(asker.as_str().into());
            }
            Source::Fixed => unreachable!("a fixed identity is resolved when it is made"),
        };
        let answer = sts.get_caller_identity().send().await.map_err(|error| {
            Error::Config(format!(
                "key layout v2 keeps replies per asker, and asking STS who this client is failed ({}); set {} to this client's IAM user id (`aws sts get-caller-identity`, `UserId`)",
                aws_sdk_sts::error::DisplayErrorContext(&error),
                Self::VARIABLE
            ))
        })?;
        let asker = answer.user_id().unwrap_or_default();
        crate::wire::valid_asker(asker).map_err(|reason| {
            Error::Config(format!(
                "STS named this client `{asker}`, which cannot name a reply partition ({reason}); set {}",
                Self::VARIABLE
            ))
        })?;
        Ok(asker.into())
    }
}

impl AskerIdentity for CallerIdentity {
    fn asker(&self) -> BoxFuture<'_, Result<Arc<str>, Error>> {
        Box::pin(async move {
            self.resolved
                .get_or_try_init(|| self.resolve())
                .await
                .cloned()
        })
    }
}
