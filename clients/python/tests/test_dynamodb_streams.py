"""DynamoDB Streams into the events function: a table with a stream on DynamoDB Local
(which serves the Streams API), an item put, changed and deleted, the stream's records
read with GetRecords and handed to the events function (through the Lambda emulator) in
the shape Lambda's event source mapping sends. Each change is published once to the
topic named after the table, in the stream's order, also when the batch comes again."""

import base64
import json
import os
import time
import uuid

import boto3


def _attribute(value):
    """An attribute value as Lambda's event carries it: DynamoDB JSON, binary as base64."""
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode() for b in inner]}
    if kind == "M":
        return {"M": {k: _attribute(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_attribute(v) for v in inner]}
    return value


def _image(item):
    return {name: _attribute(value) for name, value in item.items()}


def _lambda_record(stream_arn, record):
    """One record of a DynamoDB Streams event as Lambda delivers it."""
    change = record["dynamodb"]
    delivered = {
        "ApproximateCreationDateTime": change["ApproximateCreationDateTime"].timestamp(),
        "Keys": _image(change["Keys"]),
        "SequenceNumber": change["SequenceNumber"],
        "SizeBytes": change["SizeBytes"],
        "StreamViewType": change["StreamViewType"],
    }
    for image in ("NewImage", "OldImage"):
        if image in change:
            delivered[image] = _image(change[image])
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": os.environ.get("AWS_REGION", "us-east-1"),
        "dynamodb": delivered,
        "eventSourceARN": stream_arn,
    }


def test_a_tables_changes_are_published_once_in_order_to_its_topic(clients, client):
    dynamodb, lambda_client, _ = clients
    table = f"orders-{uuid.uuid4().hex[:12]}"
    created = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream_arn = created["TableDescription"]["LatestStreamArn"]
    dynamodb.get_waiter("table_exists").wait(TableName=table)
    dynamodb.put_item(TableName=table, Item={"order_id": {"S": "o-1"}, "total": {"N": "10"}, "receipt": {"B": b"\x00\x01"}})
    dynamodb.update_item(
        TableName=table, Key={"order_id": {"S": "o-1"}},
        UpdateExpression="SET #t = :t", ExpressionAttributeNames={"#t": "total"},
        ExpressionAttributeValues={":t": {"N": "12.5"}},
    )
    dynamodb.delete_item(TableName=table, Key={"order_id": {"S": "o-1"}})

    streams = boto3.client(
        "dynamodbstreams",
        endpoint_url=os.environ["MQLESS_TEST_DYNAMODB_ENDPOINT"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    records = []
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    batch = {"Records": [_lambda_record(stream_arn, r) for r in records]}

    answer = lambda_client.invoke(FunctionName="events-function", Payload=json.dumps(batch).encode())
    assert json.loads(answer["Payload"].read()) == {"batchItemFailures": []}
    again = lambda_client.invoke(FunctionName="events-function", Payload=json.dumps(batch).encode())
    assert json.loads(again["Payload"].read()) == {"batchItemFailures": []}

    for _ in range(100):
        topic = client.state("mqless-topic", table)
        if topic and topic["published"] >= 3:
            break
        time.sleep(0.2)
    time.sleep(1)
    assert client.state("mqless-topic", table)["published"] == 3, "each change once, the batch's second delivery deduplicated"
