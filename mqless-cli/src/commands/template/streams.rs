//! Streams and queues into the events function: an event source mapping for a Kinesis
//! data stream, one for a DynamoDB stream and one for an SQS queue, each made only when
//! its ARN parameter is set, with the role's read permissions on just that source; the
//! streams' records that keep failing go to an on-failure queue (a queue's messages to
//! its own redrive policy's dead-letter queue).

use serde_json::{json, Map, Value as Json};

/// The two kinds of streams: (parameter, condition, mapping, policy actions).
const STREAMS: [(&str, &str, &str, &[&str]); 2] = [
    (
        "EventsKinesisStreamArn",
        "HasEventsKinesisStream",
        "EventsKinesisMapping",
        &[
            "kinesis:GetRecords",
            "kinesis:GetShardIterator",
            "kinesis:DescribeStream",
            "kinesis:DescribeStreamSummary",
            "kinesis:ListShards",
        ],
    ),
    (
        "EventsDynamoDbStreamArn",
        "HasEventsDynamoDbStream",
        "EventsDynamoDbMapping",
        &[
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:DescribeStream",
        ],
    ),
];

/// The queue that gets what the mappings give up on (the record's metadata: shard and
/// sequence numbers, to read it again from the stream).
pub(super) const FAILURE_QUEUE: &str = "EventsStreamFailures";

/// The queue source: (parameter, condition, mapping, policy actions).
const QUEUE: (&str, &str, &str, &[&str]) = (
    "EventsSqsQueueArn",
    "HasEventsSqsQueue",
    "EventsSqsMapping",
    &[
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    ],
);

/// Every source: the streams, then the queue.
fn sources() -> impl Iterator<
    Item = (
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    ),
> {
    STREAMS.into_iter().chain([QUEUE])
}

/// The source ARN parameters, empty by default (no mapping).
pub(super) fn parameters() -> Map<String, Json> {
    sources()
        .map(|(parameter, ..)| {
            let description = if parameter.contains("Kinesis") {
                "The ARN of a Kinesis data stream whose records the events function publishes, one shard's records in order (empty: none)"
            } else if parameter.contains("DynamoDb") {
                "The ARN of a DynamoDB table's stream whose records the events function publishes, one shard's records in order (empty: none)"
            } else {
                "The ARN of an SQS queue whose messages the events function publishes, a FIFO queue's groups each in order; set a redrive policy on the queue for the messages that keep failing (empty: none)"
            };
            (
                parameter.to_owned(),
                json!({"Type": "String", "Default": "", "Description": description}),
            )
        })
        .collect()
}

/// A condition per parameter: whether it is set.
pub(super) fn conditions() -> Json {
    sources()
        .map(|(parameter, condition, ..)| {
            (
                condition.to_owned(),
                json!({"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}),
            )
        })
        .collect::<Map<_, _>>()
        .into()
}

/// The mappings (each under its condition) and the failure queue. A batch is published
/// in order up to its first failed record, which the function reports
/// (`ReportBatchItemFailures`); Lambda retries from it, splitting the batch to isolate
/// it, and after 10 attempts sends its metadata to the failure queue and goes on.
/// `BatchSize` stays within a topic's dedupe window (128 keys), so a batch delivered
/// again is published once.
pub(super) fn resources(function: &str) -> Map<String, Json> {
    let mut resources = Map::new();
    resources.insert(
        FAILURE_QUEUE.into(),
        json!({"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1_209_600}}),
    );
    for (parameter, condition, mapping, _) in STREAMS {
        resources.insert(
            mapping.into(),
            json!({
                "Type": "AWS::Lambda::EventSourceMapping",
                "Condition": condition,
                "Properties": {
                    "FunctionName": {"Ref": function},
                    "EventSourceArn": {"Ref": parameter},
                    "StartingPosition": "LATEST",
                    "BatchSize": 100,
                    "MaximumBatchingWindowInSeconds": 1,
                    "BisectBatchOnFunctionError": true,
                    "MaximumRetryAttempts": 10,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "DestinationConfig": {"OnFailure": {
                        "Destination": {"Fn::GetAtt": [FAILURE_QUEUE, "Arn"]}
                    }}
                }
            }),
        );
    }
    let (parameter, condition, mapping, _) = QUEUE;
    // Ten, the most a FIFO queue's batch holds; no batching window (FIFO takes none).
    // SQS retries what the function reports failed, then its redrive policy moves it.
    resources.insert(
        mapping.into(),
        json!({
            "Type": "AWS::Lambda::EventSourceMapping",
            "Condition": condition,
            "Properties": {
                "FunctionName": {"Ref": function},
                "EventSourceArn": {"Ref": parameter},
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"]
            }
        }),
    );
    resources
}

/// The events function's extra policies: read each source that is set, send to the
/// failure queue.
pub(super) fn policies() -> Vec<Json> {
    let mut policies: Vec<Json> = sources()
        .map(|(parameter, condition, _, actions)| {
            let mut statements = vec![json!({
                "Effect": "Allow",
                "Action": actions,
                "Resource": {"Ref": parameter}
            })];
            if parameter.contains("DynamoDb") {
                // Lambda lists a table's streams to find this one; it takes no resource.
                statements.push(json!({
                    "Effect": "Allow",
                    "Action": "dynamodb:ListStreams",
                    "Resource": "*"
                }));
            }
            json!({"Fn::If": [
                condition,
                {"Version": "2012-10-17", "Statement": statements},
                {"Ref": "AWS::NoValue"}
            ]})
        })
        .collect();
    policies.push(json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "StreamFailures",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": [FAILURE_QUEUE, "Arn"]}
    }]}));
    policies
}
