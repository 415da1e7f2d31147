"""Kinesis into the events function: records put into a stream on moto's server, read
back with GetRecords, and handed to the events function (through the Lambda emulator)
in the shape Lambda's event source mapping sends, since moto runs no mappings here. The
batch is published in order up to its poison record, whose sequence number alone is
reported; once the shard moves past it, the rest follows, and nothing twice."""

import json
import os
import time
import uuid

import boto3
import pytest

from conftest import kinesis_lambda_record, read_what_was_put

STREAM = "orders"  # the topic the examples' Mailer subscribes to


def _kinesis():
    endpoint = os.environ.get("AWS_ENDPOINT_URL_KINESIS")
    if not endpoint:
        pytest.fail("AWS_ENDPOINT_URL_KINESIS is not set: run these tests through scripts/local-aws (scripts/test does)")
    return boto3.client("kinesis", endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"))


def _stream(kinesis):
    try:
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    except kinesis.exceptions.ResourceInUseException:
        pass
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM)
    return kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]


def _confirmed(order_id, buyer):
    event = {"type": "order.confirmed", "order_id": order_id, "item": "", "quantity": 0,
             "buyer": buyer, "amount": 0, "reason": None}
    return json.dumps(event).encode()


def _invoke(lambda_client, payload):
    answer = lambda_client.invoke(FunctionName="events-function", Payload=json.dumps(payload).encode())
    return json.loads(answer["Payload"].read())


def _mail(client, buyer, at_least):
    for _ in range(150):
        state = client.state("Mailer", buyer)
        sent = state["sent"] if state else []
        if len(sent) >= at_least:
            return sent
        time.sleep(0.2)
    return sent


def test_a_kinesis_batch_from_moto_is_published_in_order_up_to_its_poison_record(clients, client):
    _, lambda_client, _ = clients
    kinesis = _kinesis()
    arn = _stream(kinesis)
    buyer = f"buyer-{uuid.uuid4().hex}"
    bodies = [_confirmed("o-1", buyer), _confirmed("o-2", buyer), b'["JSON, but not an object"]', _confirmed("o-3", buyer)]
    put = [kinesis.put_record(StreamName=STREAM, Data=body, PartitionKey=buyer) for body in bodies]
    shard_id, records = read_what_was_put(kinesis, STREAM, put)
    assert [r["SequenceNumber"] for r in records] == [p["SequenceNumber"] for p in put], "moto keeps the shard's order"
    batch = [kinesis_lambda_record(arn, shard_id, r) for r in records]

    answer = _invoke(lambda_client, {"Records": batch})
    assert answer == {"batchItemFailures": [{"itemIdentifier": put[2]["SequenceNumber"]}]}
    assert _mail(client, buyer, 2) == ["your order o-1 is confirmed", "your order o-2 is confirmed"]
    time.sleep(2)
    assert len(client.state("Mailer", buyer)["sent"]) == 2, "nothing after the poison record yet"

    # The shard goes on after the poison record (its on-failure destination took it);
    # the records before it, delivered again, are published once.
    answer = _invoke(lambda_client, {"Records": batch[:2] + batch[3:]})
    assert answer == {"batchItemFailures": []}
    assert _mail(client, buyer, 3) == [
        "your order o-1 is confirmed",
        "your order o-2 is confirmed",
        "your order o-3 is confirmed",
    ]
