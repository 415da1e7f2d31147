"""Key layout v2's replies (docs/wire.md, "Replies"): a call names who asks, and a reply
that does not come back in the function's answer is kept in `r/<type>/<id>/<asker>`,
which IAM lets only that asker read. The local stack's functions run in v1, which
answers in the invocation all the same; the stored reply is read as the spec's fixture
places it."""

import base64
import json
import os
import pathlib
import time
import uuid

import boto3
import pytest

from mqless_client import Client
from mqless_client.client import _reply_partition
from mqless_client.errors import AskTimeout

from conftest import ensure_table

FIXTURES = pathlib.Path(__file__).parents[3] / "fixtures" / "wire" / "v1"


def test_the_v2_reply_fixture_is_where_a_v2_client_reads():
    v1 = json.loads((FIXTURES / "item-reply.json").read_text())
    v2 = json.loads((FIXTURES / "item-reply-key-layout-v2.json").read_text())
    assert v2["pk"]["S"] == _reply_partition("Counter/c1", "AROAEXAMPLEID:billing-job")
    assert v1["pk"]["S"] == _reply_partition("Counter/c1", None)
    assert {k: v for k, v in v2.items() if k != "pk"} == {k: v for k, v in v1.items() if k != "pk"}


def test_a_v2_client_reads_a_stored_reply_from_its_own_partition_only(clients, actor_id):
    dynamodb, lambda_client, table = clients
    fixture = json.loads((FIXTURES / "item-reply-key-layout-v2.json").read_text())
    address, asker = f"Counter/{actor_id}", "AIDAALICE"
    message_id = fixture["sk"]["S"][2:]
    item = dict(
        fixture,
        pk={"S": _reply_partition(address, asker)},
        rep={"B": base64.b64decode(fixture["rep"]["B"])},  # boto3 takes the bytes
        ttl={"N": str(int(time.time()) + 600)},
    )
    dynamodb.put_item(TableName=table, Item=item)
    client = Client(table=table, dynamodb=dynamodb, lambda_client=lambda_client, key_layout="v2", asker=asker)
    deadline = time.monotonic() + 5
    assert client._wait_reply(_reply_partition(address, asker), address, message_id, deadline) == 5
    other = Client(table=table, dynamodb=dynamodb, lambda_client=lambda_client, key_layout="v2", asker="AIDABOB")
    with pytest.raises(AskTimeout):
        other._wait_reply(_reply_partition(address, "AIDABOB"), address, message_id, time.monotonic() + 0.2)


def test_a_v2_client_asks_as_the_identity_sts_names(clients, actor_id):
    dynamodb, lambda_client, table = clients
    functions = dict(pair.split("=", 1) for pair in os.environ["MQLESS_TEST_LAMBDA_FUNCTIONS"].split(","))
    sts = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL_STS"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
    client = Client(
        table=table, functions=functions, dynamodb=dynamodb, lambda_client=lambda_client,
        key_layout="v2", sts_client=sts,
    )
    asker = client._asker_identity()
    assert asker == sts.get_caller_identity()["UserId"]
    # The function takes the ask's `asker` and answers in the invocation.
    assert client.call("Counter", actor_id, "increment", by=3) == 3


def test_a_key_layout_or_asker_that_cannot_be_is_refused_at_once(clients):
    dynamodb, lambda_client, table = clients
    moving = Client(table=table, dynamodb=dynamodb, lambda_client=lambda_client, key_layout="v1-to-v2", asker="AIDAMOVING")
    assert moving.key_layout == "v2", "a table on its way to v2: written as v2"
    with pytest.raises(ValueError, match="v1, v2 or v1-to-v2"):
        Client(table=table, dynamodb=dynamodb, lambda_client=lambda_client, key_layout="v3")
    with pytest.raises(ValueError, match="asker"):
        Client(table=table, dynamodb=dynamodb, lambda_client=lambda_client, key_layout="v2", asker="r/Counter/c1")


def test_a_client_not_told_its_layout_goes_by_the_table(clients, monkeypatch):
    dynamodb, lambda_client, _ = clients
    monkeypatch.delenv("MQLESS_KEY_LAYOUT", raising=False)
    table = f"py-layout-{uuid.uuid4().hex[:12]}"

    def untold():
        return Client(table=table, dynamodb=dynamodb, lambda_client=lambda_client)

    assert untold().key_layout == "v2", "no table yet: what `mqless table create` records"
    ensure_table(dynamodb, table)
    assert untold().key_layout == "v1", "a table that records no layout is from before: v1"
    key = {"pk": {"S": "~table"}, "sk": {"S": "layout"}}
    for recorded, expected in [("v2", "v2"), ("v1-to-v2", "v2"), ("v1", "v1")]:
        dynamodb.put_item(TableName=table, Item=dict(key, kl={"S": recorded}))
        assert untold().key_layout == expected, recorded
    dynamodb.put_item(TableName=table, Item=dict(key, kl={"S": "v9"}))
    with pytest.raises(ValueError, match="records key layout 'v9'"):
        untold()
    told = Client(table=table, dynamodb=dynamodb, lambda_client=lambda_client, key_layout="v1")
    assert told.key_layout == "v1", "told: the record is not read"
    dynamodb.delete_table(TableName=table)


def test_a_role_refused_the_layout_record_takes_v1_and_says_so(clients, monkeypatch):
    """IAM refusing the read (a role from before tables recorded their layout): v1, as
    before, with a warning. DynamoDB Local does not evaluate IAM: botocore's Stubber
    gives the client DynamoDB's refusal."""
    import botocore.stub

    _, lambda_client, table = clients
    monkeypatch.delenv("MQLESS_KEY_LAYOUT", raising=False)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with botocore.stub.Stubber(dynamodb) as stub:
        stub.add_client_error("get_item", service_error_code="AccessDeniedException", http_status_code=400)
        with pytest.warns(UserWarning, match="IAM refuses reading the key layout"):
            client = Client(table=table, dynamodb=dynamodb, lambda_client=lambda_client)
    assert client.key_layout == "v1"
