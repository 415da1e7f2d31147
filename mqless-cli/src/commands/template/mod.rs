//! `template`: an AWS SAM template for the built functions, with least-privilege IAM
//! derived from what each actor sends to and emits to. Each `target/lambda/<bin>/bootstrap` is run with
//! `--mqless-manifest` (see `mqless_runtime::aws::manifest`), so the actor types, their
//! functions and who sends to whom come from the code, not from a second list.

mod buses;
mod channels;
mod clients;
mod iam;
mod streams;

use std::path::{Path, PathBuf};

use mqless_runtime::aws::manifest::Manifest;
use serde_json::{json, Map, Value as Json};

use super::manifest::ask_manifest;
use crate::TemplateArgs;

/// One built function and what it said about itself.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    /// The binary's name (`counter-function`): its folder under `target/lambda`.
    pub(crate) bin: String,
    /// Where `cargo lambda build` put it, as the template's `CodeUri`.
    pub(crate) code_uri: String,
    pub(crate) manifest: Manifest,
}

impl Function {
    /// The CloudFormation logical id: the binary's name in `PascalCase`.
    pub(crate) fn logical_id(&self) -> String {
        pascal_case(&self.bin)
    }

    /// The deployed function's name: the stack's name, then the binary's.
    pub(crate) fn name(&self) -> Json {
        json!({"Fn::Sub": format!("${{AWS::StackName}}-{}", self.bin)})
    }
}

/// `name` in `PascalCase`, letters and digits only (`order-events.eu-1`:
/// `OrderEventsEu1`): CloudFormation's logical ids and parameter names.
pub(crate) fn pascal_case(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// Writes the template (to `--out` or stdout); the summary goes to stderr.
pub(crate) fn run(args: &TemplateArgs) -> Result<String, String> {
    let functions = discover(&args.functions)?;
    // The crate in this folder, if any, may declare its table's layout.
    let package = super::package::find(Path::new("."))?;
    let (layout, chosen_by) = super::package::choose_layout(args.key_layout, package.as_ref())?;
    let args = &TemplateArgs {
        key_layout: Some(layout),
        ..args.clone()
    };
    let template = template(&functions, args)?;
    let text = serde_json::to_string_pretty(&template).map_err(|e| e.to_string())? + "\n";
    let summary = functions
        .iter()
        .map(|f| {
            let emits = match &f.manifest.emits_to {
                Some(channels) if !channels.is_empty() => {
                    format!(", emits to {}", channels.join(", "))
                }
                _ => String::new(),
            };
            match (&f.manifest.actor_type, &f.manifest.sends_to) {
                (Some(t), Some(to)) if !to.is_empty() => {
                    format!("{} ({t}, sends to {}{emits})", f.bin, to.join(", "))
                }
                (Some(t), _) => format!("{} ({t}{emits})", f.bin),
                (None, _) => format!("{} (sweeper)", f.bin),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| format!("could not write {}: {e}", path.display()))?;
            Ok(format!(
                "wrote {} with {summary}; key layout {layout}, {chosen_by}",
                path.display()
            ))
        }
        None => {
            print!("{text}");
            Ok(String::new())
        }
    }
}

/// Every `<dir>/<bin>/bootstrap`, asked for its manifest.
fn discover(dir: &Path) -> Result<Vec<Function>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot read {} ({e}): build the functions first, for example `cargo lambda build --release --features aws --bin counter-function --bin sweeper-function`",
            dir.display()
        )
    })?;
    let mut bootstraps: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("bootstrap").is_file())
        .filter_map(|path| {
            let bin = path.file_name()?.to_str()?.to_owned();
            Some((bin, path))
        })
        .collect();
    bootstraps.sort();
    if bootstraps.is_empty() {
        return Err(format!(
            "no <function>/bootstrap under {}: build the functions with `cargo lambda build --release`",
            dir.display()
        ));
    }
    let mut functions = Vec::new();
    for (bin, path) in bootstraps {
        let manifest = ask_manifest(&path.join("bootstrap"))?;
        functions.push(Function {
            code_uri: format!("{}/", path.display()),
            bin,
            manifest,
        });
    }
    let types: Vec<&str> = functions
        .iter()
        .filter_map(|f| f.manifest.actor_type.as_deref())
        .collect();
    if let Some(duplicate) = types
        .iter()
        .enumerate()
        .find(|(i, t)| types[..*i].contains(t))
    {
        return Err(format!(
            "two functions under {} run actor type `{}`: keep one (each actor type has one function)",
            dir.display(),
            duplicate.1
        ));
    }
    Ok(functions)
}

/// The SAM template.
fn template(functions: &[Function], args: &TemplateArgs) -> Result<Json, String> {
    let actors: Vec<&Function> = functions
        .iter()
        .filter(|f| f.manifest.actor_type.is_some())
        .collect();
    if actors.is_empty() {
        return Err(
            "no actor function among the built functions: a template needs at least one".into(),
        );
    }
    let layout = args.layout();
    let directory = iam::Directory::new(&actors, layout);
    let mut resources = Map::new();
    resources.insert("Table".into(), table());
    for function in functions {
        resources.insert(
            function.logical_id(),
            function_resource(function, &directory, args)?,
        );
    }
    let events_function = functions.iter().find(|f| f.manifest.events);
    let events = events_function.is_some();
    if let (true, Some(function)) = (layout.apart(), events_function) {
        check_subscribers_listed(function, &actors)?;
    }
    if let Some(function) = events_function {
        resources.extend(events_queues());
        resources.extend(streams::resources(&function.logical_id()));
        resources.extend(buses::resources(&args.event_buses, &function.logical_id())?);
    } else if !args.event_buses.is_empty() {
        return Err(
            "--event-bus needs the events function (`mqless::aws::serve_events`) among the functions: it publishes the bus's events".into(),
        );
    }
    let every_type = directory.types().collect();
    resources.insert(
        "ClientPolicy".into(),
        iam::client_policy(
            &directory,
            &every_type,
            "Send to the MQLess actors of this stack",
        ),
    );
    let grants = clients::parse(&args.clients, &directory)?;
    resources.extend(clients::resources(&grants, &directory));
    resources.insert("OperatorPolicy".into(), iam::operator_policy());
    let names: Vec<&str> = actors
        .iter()
        .filter_map(|f| f.manifest.actor_type.as_deref())
        .collect();
    let mut template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": format!("MQLess actors {} (generated by `mqless template`)", names.join(", ")),
        "Parameters": parameters(events, &channels::all(functions)),
        "Globals": {"Function": {
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Architectures": [args.arch.as_str()],
            "MemorySize": 256,
            "Timeout": 60
        }},
        "Resources": resources,
        "Outputs": outputs(&directory, events, args, clients::outputs(&grants))
    });
    if events {
        template["Conditions"] = streams::conditions();
    }
    Ok(template)
}

/// Where subscriptions are apart, the events function reads only the subscriptions of
/// the types it lists: one left out would never get its per-actor subscriptions' events.
fn check_subscribers_listed(events: &Function, actors: &[&Function]) -> Result<(), String> {
    let listed = events.manifest.sends_to.as_deref().unwrap_or_default();
    for actor in actors {
        let (Some(actor_type), Some(topic)) = (
            actor.manifest.actor_type.as_deref(),
            actor.manifest.subscribes_to.first(),
        ) else {
            continue;
        };
        if !listed.iter().any(|t| t == actor_type) {
            return Err(format!(
                "`{actor_type}` subscribes to `{topic}` one actor at a time, but the events function ({}) does not list it: in key layout v2 a topic reads only the subscriptions of the types its events function lists; add `.with::<{actor_type}>()` to its `Subscribers`, build it again, then generate again",
                events.bin
            ));
        }
    }
    Ok(())
}

/// The function of an actor type (with the events queue as its source if it is the
/// events function), or the sweeper (on its two schedules), with exactly the
/// permissions it needs.
fn function_resource(
    function: &Function,
    directory: &iam::Directory,
    args: &TemplateArgs,
) -> Result<Json, String> {
    let (policies, events) = match &function.manifest.actor_type {
        Some(actor_type) if function.manifest.events => (
            with_stream_policies(iam::actor_policies(directory, actor_type)?),
            Some(json!({"Queue": {"Type": "SQS", "Properties": {
                "Queue": {"Fn::GetAtt": ["EventsQueue", "Arn"]},
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"]
            }}})),
        ),
        Some(actor_type) => (iam::actor_policies(directory, actor_type)?, None),
        None => (
            iam::sweeper_policies(directory),
            Some(json!({
                "Sweep": {"Type": "Schedule", "Properties": {
                    "Schedule": {"Ref": "SweepSchedule"},
                    "Input": {"Fn::Sub": "{\"every_ms\": ${SweepEveryMs}}"}
                }},
                "Audit": {"Type": "Schedule", "Properties": {
                    "Schedule": {"Ref": "AuditSchedule"},
                    "Input": "{\"audit\": true}"
                }}
            })),
        ),
    };
    let mut props = json!({
        "FunctionName": function.name(),
        "CodeUri": function.code_uri,
        "Environment": {"Variables": {
            "MQLESS_TABLE": {"Ref": "Table"},
            "MQLESS_FUNCTIONS": directory.functions_variable(),
            "MQLESS_KEY_LAYOUT": args.layout().as_str(),
        }},
        "Policies": policies,
    });
    if function.manifest.events {
        props["Environment"]["Variables"]["MQLESS_EVENTS_TOPIC"] = json!({"Ref": "EventsTopic"});
    }
    if let Some(variable) = channels::variable(function) {
        props["Environment"]["Variables"]["MQLESS_CHANNELS"] = variable;
    }
    if let (Some(statement), Some(list)) = (
        channels::statement(function),
        props["Policies"][0]["Statement"].as_array_mut(),
    ) {
        list.push(statement);
    }
    if let (Some(events), Some(object)) = (events, props.as_object_mut()) {
        object.insert("Events".into(), events);
    }
    Ok(json!({"Type": "AWS::Serverless::Function", "Properties": props}))
}

/// The events function's policies and those reading its streams.
fn with_stream_policies(mut policies: Json) -> Json {
    if let Some(list) = policies.as_array_mut() {
        list.extend(streams::policies());
    }
    policies
}

/// The template's parameters: the sweeper's schedules, the events topic and streams, and
/// the target of each channel.
fn parameters(events: bool, channels: &std::collections::BTreeSet<String>) -> Json {
    let mut parameters = json!({
        "SweepSchedule": {
            "Type": "String",
            "Default": "rate(1 minute)",
            "Description": "How often the sweeper reads the due index and wakes what is due (scheduled messages, reminders, ask timeouts, wake-ups that failed): the most a timer runs late"
        },
        "SweepEveryMs": {
            "Type": "Number",
            "Default": 0,
            "MinValue": 0,
            "Description": "0: one sweep per schedule (timers run within the schedule's period). Say 5000: each invocation sweeps every 5 s until its deadline, so timers run within 5 s, for the sweeper's Lambda duration (about $0.3 a day at 256 MB)"
        },
        "AuditSchedule": {
            "Type": "String",
            "Default": "rate(1 hour)",
            "Description": "How often the sweeper reads the whole table (a Scan, billed per byte stored) for messages whose wake-up was lost unseen"
        }
    });
    if events {
        parameters["EventsTopic"] = json!({
            "Type": "String",
            "Default": "events",
            "AllowedPattern": "[A-Za-z0-9._-]{1,128}",
            "Description": "The topic of queued events that name none (no `topic` message attribute, no MEGA domain)"
        });
        if let Some(object) = parameters.as_object_mut() {
            object.extend(streams::parameters());
        }
    }
    if let Some(object) = parameters.as_object_mut() {
        object.extend(channels::parameters(channels));
    }
    parameters
}

/// The template's outputs: what clients and operators configure from.
fn outputs(
    directory: &iam::Directory,
    events: bool,
    args: &TemplateArgs,
    client_policies: Map<String, Json>,
) -> Json {
    let mut outputs = json!({
        "Table": {"Description": "MQLESS_TABLE for clients and the mqless command", "Value": {"Ref": "Table"}},
        "KeyLayout": {"Description": "MQLESS_KEY_LAYOUT for clients and the mqless command", "Value": args.layout().as_str()},
        "Functions": {"Description": "MQLESS_FUNCTIONS for clients and the mqless command", "Value": directory.functions_variable()},
        "ClientPolicyArn": {"Description": "Attach to what sends to the actors", "Value": {"Ref": "ClientPolicy"}},
        "OperatorPolicyArn": {"Description": "Attach to whoever runs the mqless command", "Value": {"Ref": "OperatorPolicy"}}
    });
    if events {
        outputs["EventsQueueUrl"] = json!({
            "Description": "Send events here (SNS topics can subscribe it): the events function publishes them",
            "Value": {"Ref": "EventsQueue"}
        });
    }
    if let Some(outputs) = outputs.as_object_mut() {
        outputs.extend(client_policies);
    }
    outputs
}

/// The events function's queue (its visibility timeout six times the function's 60 s, as
/// AWS advises for Lambda sources), and the dead-letter queue SQS moves a record to after
/// five failed receives.
fn events_queues() -> Map<String, Json> {
    let mut queues = Map::new();
    queues.insert(
        "EventsDeadLetterQueue".into(),
        json!({"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1_209_600}}),
    );
    queues.insert(
        "EventsQueue".into(),
        json!({"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": 360,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]},
                "maxReceiveCount": 5
            }
        }}),
    );
    queues
}

/// The table: on demand, keys `pk`/`sk`, TTL on `ttl`, and the sparse indexes
/// `DynamoStore::create_table` makes: `actors` (by type), `due` (what sweeps read:
/// shard, then due time) and `quarantined`.
fn table() -> Json {
    json!({
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "ty", "AttributeType": "S"},
                {"AttributeName": "dsh", "AttributeType": "S"},
                {"AttributeName": "dk", "AttributeType": "S"},
                {"AttributeName": "qix", "AttributeType": "S"}
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"}
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "actors",
                    "KeySchema": [
                        {"AttributeName": "ty", "KeyType": "HASH"},
                        {"AttributeName": "pk", "KeyType": "RANGE"}
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"}
                },
                {
                    "IndexName": "due",
                    "KeySchema": [
                        {"AttributeName": "dsh", "KeyType": "HASH"},
                        {"AttributeName": "dk", "KeyType": "RANGE"}
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"}
                },
                {
                    "IndexName": "quarantined",
                    "KeySchema": [
                        {"AttributeName": "qix", "KeyType": "HASH"},
                        {"AttributeName": "pk", "KeyType": "RANGE"}
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["qr", "qat"]}
                }
            ],
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": true}
        }
    })
}

#[cfg(test)]
mod isolation_tests;
#[cfg(test)]
mod policy_model;
#[cfg(test)]
mod tests;
