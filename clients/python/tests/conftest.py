"""Runs against the local stack `scripts/local-aws` starts (DynamoDB Local and the Lambda
emulator serving the Rust example functions): its environment says where."""

import base64
import os
import uuid

import boto3
import botocore.config
import pytest

from mqless_client import Client


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through scripts/local-aws (scripts/test does)")
    return value


@pytest.fixture(scope="session")
def clients():
    region = os.environ.get("AWS_REGION", "us-east-1")
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=_env("MQLESS_TEST_DYNAMODB_ENDPOINT"), region_name=region
    )
    lambda_client = boto3.client(
        "lambda",
        endpoint_url=_env("MQLESS_TEST_LAMBDA_ENDPOINT"),
        region_name=region,
        config=botocore.config.Config(read_timeout=60, retries={"max_attempts": 0}),
    )
    table = _env("MQLESS_TEST_LAMBDA_TABLE")
    ensure_table(dynamodb, table)
    return dynamodb, lambda_client, table


def ensure_table(dynamodb, table):
    """The table as docs/wire.md describes it, if the Rust tests did not create it."""
    try:
        dynamodb.describe_table(TableName=table)
    except dynamodb.exceptions.ResourceNotFoundException:
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.get_waiter("table_exists").wait(TableName=table)


@pytest.fixture()
def client(clients):
    dynamodb, lambda_client, table = clients
    functions = dict(pair.split("=", 1) for pair in _env("MQLESS_TEST_LAMBDA_FUNCTIONS").split(","))
    return Client(table=table, functions=functions, timeout=30, dynamodb=dynamodb, lambda_client=lambda_client)


@pytest.fixture()
def actor_id():
    return "py-" + uuid.uuid4().hex


def kinesis_lambda_record(stream_arn, shard_id, record):
    """One record of a Kinesis event as Lambda delivers it (AWS's documented shape)."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::000000000000:role/events",
        "awsRegion": os.environ.get("AWS_REGION", "us-east-1"),
        "eventSourceARN": stream_arn,
    }


def read_what_was_put(kinesis, stream, put):
    """The records `put` (answers of PutRecord, one shard) as the shard holds them, in
    its order: what Lambda's mapping would read. (shard id, records)"""
    shard_id = put[0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=put[0]["SequenceNumber"],
    )["ShardIterator"]
    ours = {p["SequenceNumber"] for p in put}
    records = [r for r in kinesis.get_records(ShardIterator=iterator)["Records"] if r["SequenceNumber"] in ours]
    return shard_id, records
