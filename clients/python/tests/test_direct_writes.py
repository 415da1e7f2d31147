"""The direct-write path of docs/wire.md ("Enqueue by writing the table"), followed as
written: ids from the reference generator, the documented item and condition, then a
wake-up. No `send` invocation is involved: this proves the spec of the table is enough."""

import base64
import json
import pathlib
import random
import time

import msgpack

FIXTURES = pathlib.Path(__file__).parents[3] / "fixtures" / "wire" / "v1"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class IdGenerator:
    """The reference generator of docs/wire.md, "Message ids"."""

    def __init__(self):
        self.last = 0

    def next(self):
        t = int(time.time() * 1000) << 80
        self.last = t | random.getrandbits(79) if t > self.last else self.last + 1
        return "".join(CROCKFORD[(self.last >> (5 * i)) & 31] for i in reversed(range(26)))


def put_message(dynamodb, table, address, message_id, envelope):
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": address}, "sk": {"S": "m#" + message_id}, "env": {"B": envelope}},
        ConditionExpression="attribute_not_exists(pk)",
    )


def test_the_fixture_item_is_what_the_spec_says():
    item = json.loads((FIXTURES / "item-mailbox.json").read_text())
    envelope = base64.b64decode(item["env"]["B"])
    assert envelope == (FIXTURES / "envelope-tell.msgpack").read_bytes()
    assert msgpack.unpackb(msgpack.unpackb(envelope)["body"]) == {"increment": {"by": 5}}
    assert item["sk"]["S"].startswith("m#") and len(item["sk"]["S"]) == 28
    # Key layout v2: the same item in the mailbox's own partition, `m/<type>/<id>`.
    v2 = json.loads((FIXTURES / "item-mailbox-key-layout-v2.json").read_text())
    assert v2["pk"]["S"] == "m/" + item["pk"]["S"]
    assert {k: v for k, v in v2.items() if k != "pk"} == {k: v for k, v in item.items() if k != "pk"}


def test_messages_written_to_the_table_run_in_id_order(clients, client, actor_id):
    dynamodb, lambda_client, table = clients
    ids = IdGenerator()
    address = f"Counter/{actor_id}"
    written = []
    for by in [1, 10, 100]:
        body = msgpack.packb({"increment": {"by": by}})
        message_id = ids.next()
        put_message(dynamodb, table, address, message_id, msgpack.packb({"body": body}))
        written.append(message_id)
    assert written == sorted(written)
    # A retry of a write that landed fails the condition: nothing is queued twice.
    try:
        put_message(dynamodb, table, address, written[0], msgpack.packb({"body": msgpack.packb({"increment": {"by": 1}})}))
        raise AssertionError("the condition should refuse a second write of the same id")
    except dynamodb.exceptions.ConditionalCheckFailedException:
        pass
    # An ask written to the table, then invoked with `reply_to`: the reply is in the answer.
    ask_id = ids.next()
    put_message(dynamodb, table, address, ask_id, msgpack.packb({"body": msgpack.packb({"get": {}}), "ask": True}))
    out = lambda_client.invoke(
        FunctionName="counter-function",
        Payload=json.dumps({"actor": actor_id, "actor_type": "Counter", "reply_to": ask_id}).encode(),
    )
    answer = json.loads(out["Payload"].read())
    assert answer["end"] == "Empty", answer
    assert msgpack.unpackb(base64.b64decode(answer["reply"])) == {"Ok": msgpack.packb(111)}
    assert client.state("Counter", actor_id) == {"value": 111}


def test_a_wake_up_drains_what_was_written(clients, client, actor_id):
    dynamodb, lambda_client, table = clients
    ids = IdGenerator()
    put_message(dynamodb, table, f"Counter/{actor_id}", ids.next(), msgpack.packb({"body": msgpack.packb({"increment": {"by": 7}})}))
    # A tell's wake-up is an `Event` invoke; the emulator runs it before answering.
    lambda_client.invoke(
        FunctionName="counter-function",
        InvocationType="Event",
        Payload=json.dumps({"actor": actor_id, "actor_type": "Counter"}).encode(),
    )
    deadline = time.monotonic() + 10
    while client.state("Counter", actor_id) != {"value": 7}:
        assert time.monotonic() < deadline, "the message did not run"
        time.sleep(0.05)
