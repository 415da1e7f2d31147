//! The channels actors emit to (`ctx.emit`), as the template deploys them: a parameter per
//! channel, the ARN of its target (an SNS topic, SQS queue or EventBridge bus); each
//! function's `MQLESS_CHANNELS` with the channels its actor emits to; and a statement
//! that lets it send to exactly those targets.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value as Json};

use super::Function;

/// The channels any of `functions` emits to.
pub(super) fn all(functions: &[Function]) -> BTreeSet<String> {
    functions.iter().flat_map(of).collect()
}

/// The channels `function`'s actor emits to.
fn of(function: &Function) -> BTreeSet<String> {
    function
        .manifest
        .emits_to
        .iter()
        .flatten()
        .cloned()
        .collect()
}

/// The parameter of `channel`: `Channel` and the name in `PascalCase` (`order-events`:
/// `ChannelOrderEvents`).
pub(super) fn parameter(channel: &str) -> String {
    format!("Channel{}", super::pascal_case(channel))
}

/// A parameter per channel of `channels`: its target's ARN.
pub(super) fn parameters(channels: &BTreeSet<String>) -> Map<String, Json> {
    channels
        .iter()
        .map(|channel| {
            (
                parameter(channel),
                json!({
                    "Type": "String",
                    "AllowedPattern": "arn:aws[a-z-]*:(sns|sqs|events):[a-z0-9-]+:[0-9]{12}:.+",
                    "Description": format!("The ARN of the SNS topic, SQS queue or EventBridge bus (event-bus/<name>) that channel `{channel}` stands for: what actors emit to it with ctx.emit(\"{channel}\", ..) is sent there")
                }),
            )
        })
        .collect()
}

/// `function`'s `MQLESS_CHANNELS` (`name=${ChannelName},..`), if its actor emits.
pub(super) fn variable(function: &Function) -> Option<Json> {
    let channels = of(function);
    if channels.is_empty() {
        return None;
    }
    let entries: Vec<String> = channels
        .iter()
        .map(|channel| format!("{channel}=${{{}}}", parameter(channel)))
        .collect();
    Some(json!({"Fn::Sub": entries.join(",")}))
}

/// The statement that lets `function` send to its channels' targets, if its actor
/// emits. The three actions on exactly those ARNs: each applies only to its own
/// service's resources, so nothing else is granted.
pub(super) fn statement(function: &Function) -> Option<Json> {
    let channels = of(function);
    if channels.is_empty() {
        return None;
    }
    let targets: Vec<Json> = channels
        .iter()
        .map(|channel| json!({"Ref": parameter(channel)}))
        .collect();
    Some(json!({
        "Sid": "ChannelsItEmitsTo",
        "Effect": "Allow",
        "Action": ["sqs:SendMessage", "sqs:GetQueueUrl", "sns:Publish", "events:PutEvents"],
        "Resource": targets
    }))
}
