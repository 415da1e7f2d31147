"""The order saga as events (examples/src/order_events.rs) through the functions: the
OrderDesk, Stock and Mailer functions and the events function on the Lambda emulator,
over DynamoDB Local, with the services outside MQLess on moto's server. The payment
service writes its reports to the Kinesis stream `payments`, read back with GetRecords
and handed to the events function as Lambda's mapping would (moto runs no mappings
here); the OrderDesk function emits confirmed orders to an SNS topic, which a plain SQS
consumer (the shipping service) reads from its subscribed queue, and refunds to the
payment service's SQS queue. `scripts/local-aws` gives the functions those targets in
MQLESS_CHANNELS; this test creates them."""

import json
import os
import time
import uuid

import boto3
import pytest

from conftest import kinesis_lambda_record, read_what_was_put

STREAM = "payments"  # the topic the OrderDesk's payment subscription reads


def _moto(service):
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}")
    if not endpoint:
        pytest.fail(f"AWS_ENDPOINT_URL_{service.upper()} is not set: run these tests through scripts/local-aws (scripts/test does)")
    return boto3.client(service, endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"))


def _channels():
    """The targets the functions emit to, as scripts/local-aws sets them."""
    channels = os.environ.get("MQLESS_CHANNELS")
    if not channels:
        pytest.fail("MQLESS_CHANNELS is not set: run these tests through scripts/local-aws (scripts/test does)")
    return dict(entry.split("=", 1) for entry in channels.split(","))


def _outside_services():
    """The shipping topic with the shipping service's queue subscribed, the refunds
    queue and the payments stream: (sqs, kinesis, shipping queue URL, refunds queue URL,
    stream ARN)."""
    sns, sqs, kinesis = _moto("sns"), _moto("sqs"), _moto("kinesis")
    channels = _channels()
    topic = sns.create_topic(Name=channels["shipping"].rsplit(":", 1)[1])["TopicArn"]
    assert topic == channels["shipping"], "moto's topic ARN is the one the functions were given"
    shipping = sqs.create_queue(QueueName="shipping-service")["QueueUrl"]
    shipping_arn = sqs.get_queue_attributes(QueueUrl=shipping, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=shipping_arn)
    refunds = sqs.create_queue(QueueName=channels["refunds"].rsplit(":", 1)[1])["QueueUrl"]
    try:
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    except kinesis.exceptions.ResourceInUseException:
        pass
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM)
    stream = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
    return sqs, kinesis, shipping, refunds, stream


def _pay(kinesis, lambda_client, stream_arn, reports):
    """The payment service: puts its reports on the stream; the mapping's part (read
    the shard, invoke the events function with the batch) done by hand."""
    put = [kinesis.put_record(StreamName=STREAM, Data=json.dumps(r).encode(), PartitionKey=r["order_id"]) for r in reports]
    shard, records = read_what_was_put(kinesis, STREAM, put)
    batch = [kinesis_lambda_record(stream_arn, shard, r) for r in records]
    answer = lambda_client.invoke(FunctionName="events-function", Payload=json.dumps({"Records": batch}).encode())
    assert json.loads(answer["Payload"].read()) == {"batchItemFailures": []}


def _until(what, read, done, seconds=40):
    value = read()
    deadline = time.monotonic() + seconds
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = read()
    assert done(value), f"{what}: {value!r}"
    return value


def _received(sqs, queue, wanted, seconds=30):
    """What a plain SQS consumer reads from `queue`, by `wanted(body)` (a key or None),
    until every wanted key came."""
    found = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           MessageAttributeNames=["All"]).get("Messages", []):
            key = wanted(message)
            if key is not None:
                found.setdefault(key, []).append(message)
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        if found and time.monotonic() > deadline - seconds + 3:
            break
    return found


def test_the_order_saga_ships_through_sns_and_takes_payments_from_kinesis(clients, client):
    _, lambda_client, _ = clients
    sqs, kinesis, shipping, refunds, stream = _outside_services()
    run = uuid.uuid4().hex[:12]
    lamp, ann, bob = f"lamp-{run}", f"ann-{run}", f"bob-{run}"
    orders = [(f"o-1-{run}", 2, ann, 200), (f"o-2-{run}", 1, bob, 100), (f"o-3-{run}", 4, ann, 250)]
    client.call("Stock", lamp, "restock", quantity=5)
    for order, quantity, buyer, amount in orders:
        client.call("OrderDesk", order, "place", item=lamp, quantity=quantity, buyer=buyer, amount=amount)
    # The stock has o-1 and o-2 reserved when o-3 comes (the topic keeps publish order),
    # and refuses it; only then does the payment service report.
    refused = {"Cancelled": f"only 2 {lamp} in stock"}
    _until("o-3 refused", lambda: client.state("OrderDesk", orders[2][0])["status"], lambda s: s == refused)
    _pay(kinesis, lambda_client, stream, [
        {"type": "payment.settled", "order_id": orders[0][0], "amount": 200, "reason": None},
        {"type": "payment.declined", "order_id": orders[1][0], "amount": 100, "reason": "bob's card was declined"},
        {"type": "payment.settled", "order_id": orders[2][0], "amount": 250, "reason": None},
    ])

    statuses = [
        _until(f"{order}'s status", lambda o=order: client.state("OrderDesk", o)["status"], lambda s: s != "Pending")
        for order, *_ in orders
    ]
    assert statuses == ["Confirmed", {"Cancelled": "bob's card was declined"}, refused]
    stock = _until("bob's reservation released", lambda: client.state("Stock", lamp), lambda s: s["available"] == 3)
    assert stock["reserved"] == {orders[0][0]: 2}
    assert _until("ann's mail", lambda: client.state("Mailer", ann), lambda s: s)["sent"] == [f"your order {orders[0][0]} is confirmed"]

    # The shipping service: SNS notifications (not raw) on its queue, a MEGA event each.
    def shipped(message):
        notification = json.loads(message["Body"])
        event = json.loads(notification["Message"])
        subject = event["event"]["subject"]
        return subject if subject.endswith(run) else None
    shipped_orders = _received(sqs, shipping, shipped)
    assert list(shipped_orders) == [orders[0][0]], "only o-1 ships"
    [message] = shipped_orders[orders[0][0]]
    notification = json.loads(message["Body"])
    event = json.loads(notification["Message"])
    assert (event["protocol"], event["event"]["name"], event["object"]["current"]["quantity"]) == ("mega", "order.confirmed", 2)
    assert notification["MessageAttributes"]["mqless-from"]["Value"] == f"OrderDesk/{orders[0][0]}"
    assert notification["MessageAttributes"]["mqless-emission"]["Value"], "the emission's id, to deduplicate by"

    # The payment service's refunds queue: the payment that settled for refused stock.
    def refund(message):
        body = json.loads(message["Body"])
        return body["order_id"] if body["order_id"].endswith(run) else None
    refunded = _received(sqs, refunds, refund)
    assert list(refunded) == [orders[2][0]]
    [message] = refunded[orders[2][0]]
    assert json.loads(message["Body"]) == {"type": "refund.requested", "order_id": orders[2][0], "amount": 250,
                                          "reason": "the order was cancelled"}
