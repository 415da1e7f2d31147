//! EventBridge buses into the events function (`mqless template --event-bus NAME`): a
//! rule per bus that sends its events to the function, which publishes each to its topic
//! (the event's `source`, a MEGA event's domain), and the permission for EventBridge to
//! invoke it. The rule leaves out events MQLess itself emitted (`source` `mqless.*`), so
//! an actor emitting to a bus the events function reads does not feed itself.

use serde_json::{json, Map, Value as Json};

/// The pattern of every rule: everything but MQLess's own emissions.
pub(super) const PATTERN: &str = r#"{"source": [{"anything-but": {"prefix": "mqless."}}]}"#;

/// The rule and the invoke permission for each bus of `buses`, targeting the function of
/// logical id `function`.
pub(super) fn resources(buses: &[String], function: &str) -> Result<Map<String, Json>, String> {
    let mut resources = Map::new();
    for bus in buses {
        if bus.is_empty()
            || bus.len() > 256
            || !bus
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'))
        {
            return Err(format!(
                "--event-bus {bus:?} is not an event bus name (1 to 256 letters, digits, `.`, `-`, `_`, `/`)"
            ));
        }
        let rule = format!("EventsRule{}", super::pascal_case(bus));
        if resources.contains_key(&rule) {
            return Err(format!(
                "--event-bus {bus:?} is given twice (or two names make the same rule)"
            ));
        }
        resources.insert(
            format!("{rule}Permission"),
            json!({"Type": "AWS::Lambda::Permission", "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Ref": function},
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [&rule, "Arn"]}
            }}),
        );
        resources.insert(
            rule,
            json!({"Type": "AWS::Events::Rule", "Properties": {
                "Description": format!("Events on bus {bus} to the events function, which publishes them to their topics"),
                "EventBusName": bus,
                "EventPattern": serde_json::from_str::<Json>(PATTERN).map_err(|e| e.to_string())?,
                "State": "ENABLED",
                "Targets": [{"Arn": {"Fn::GetAtt": [function, "Arn"]}, "Id": "events-function"}]
            }}),
        );
    }
    Ok(resources)
}
