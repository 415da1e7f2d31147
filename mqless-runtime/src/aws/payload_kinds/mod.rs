//! The payload kinds SQS MEGA defines, as they travel on each channel: written by what
//! actors emit ([`Payload`](crate::events::Payload)) and read back by the events
//! function, which turns every kind into an event that patterns can match, a JSON
//! object:
//!
//! | payload | on SQS and SNS (text) | on Kinesis (bytes) | on EventBridge, and as an event |
//! |---|---|---|---|
//! | a MEGA event, a JSON object | its JSON | its JSON | the object |
//! | a BSON document | the document, base64 | the document | the object (the JSON it encodes) |
//! | binary data | base64 | base64 | `{"binary": "<the base64 text>"}` |
//! | plain text | the text; a JSON string if the text would read as another kind | the same | `{"plaintext": "<the text>"}` |
//!
//! Text that is valid base64 (`test`) reads as binary, and JSON text as an object, as
//! in SQS MEGA: so such text is written as a JSON string, which reads back as the text.
//! Binary data that happens to be a BSON document, or is empty, cannot be told apart
//! from another kind on the wire and is refused (send a document with
//! [`Payload::bson`](crate::events::Payload::bson)).

mod decode;
mod encode;

pub(crate) use decode::{decode_bytes, decode_text};
pub use encode::{encode_bytes, encode_text, event_object};
