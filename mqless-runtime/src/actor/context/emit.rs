//! Emitting from a handler to channels outside MQLess: kept in the outbox, committed
//! with the batch in the state record's bookkeeping, delivered after the commit (see
//! [`crate::events::Emission`]).

use std::sync::PoisonError;

use super::{Context, Outbox};
use crate::error::Error;
use crate::events::{check_channel, Emission, Payload, MAX_EMISSION_DEPTH};
use crate::id::MessageId;

impl Context {
    /// Emits `payload` to `channel`, a destination outside MQLess (an SNS topic, an SQS
    /// queue or an EventBridge bus, which the deployment maps the name to), when this
    /// handler succeeds: committed with its state change, delivered after the commit,
    /// at least once and in the order this actor emitted, always under the returned id
    /// (an SQS FIFO queue's deduplication id; consumers deduplicate by it). A handler
    /// that fails emits nothing.
    ///
    /// ```
    /// # use mqless_runtime::events::Payload;
    /// # #[derive(serde::Serialize)] struct OrderConfirmed { order_id: String }
    /// # fn confirm(ctx: &mut mqless_runtime::Context) -> Result<(), mqless_runtime::Error> {
    /// let event = Payload::json(&OrderConfirmed { order_id: ctx.id().to_string() })?;
    /// ctx.emit("shipping", event)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidChannel`], [`Error::UndeclaredChannel`] for a channel the actor's
    /// `#[actor]` block does not name, [`Error::TooMuchEmitted`] past the per-message limit
    /// (`DrainConfig::max_emission_bytes_per_message`), [`Error::Codec`] for a payload
    /// nested deeper than [`MAX_EMISSION_DEPTH`](crate::events::MAX_EMISSION_DEPTH), [`Error::SendFromQuery`] in a
    /// `.query()`, [`Error::HandlerReturned`] after the handler returned.
    pub fn emit(&self, channel: &str, payload: Payload) -> Result<MessageId, Error> {
        self.outbox.emit(channel, payload)
    }
}

impl Outbox {
    fn emit(&self, channel: &str, payload: Payload) -> Result<MessageId, Error> {
        if self.query {
            return Err(Error::SendFromQuery {
                to: format!("channel `{channel}`"),
            });
        }
        check_channel(channel)?;
        if self.emits_to.is_some_and(|named| !named.contains(&channel)) {
            return Err(Error::UndeclaredChannel {
                from: self
                    .from
                    .as_ref()
                    .map_or_else(String::new, |from| from.actor_type().to_string()),
                channel: channel.to_owned(),
            });
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.closed {
            return Err(Error::HandlerReturned {
                to: format!("channel `{channel}`"),
            });
        }
        // In the sequence of this actor's sends: ids grow in the order it emits, across
        // owners whose clocks differ.
        let id = MessageId::generate(self.now_millis, state.last_id);
        let emission = Emission {
            id,
            channel: channel.to_owned(),
            payload,
        };
        let encoded = crate::codec::encode(&emission, "emission", usize::MAX)?;
        crate::codec::scan(&encoded, "emission", MAX_EMISSION_DEPTH)?;
        let size = encoded.len();
        let total = state.emission_bytes.saturating_add(size);
        if total > self.max_emission_bytes {
            return Err(Error::TooMuchEmitted {
                size: total,
                limit: self.max_emission_bytes,
            });
        }
        state.last_id = Some(id);
        state.emission_bytes = total;
        state.emissions.push(emission);
        Ok(id)
    }
}
