"""The Python client against the Rust example functions, end to end: client -> the
function's `send` invocation -> DynamoDB Local mailbox -> drain -> state and reply."""

import json

import pytest

from mqless_client import DeadLettered, Duplicate, HandlerError, InvocationFailed  # noqa: F401


def test_send_queues_in_order_and_state_reads_the_committed_state(client, actor_id):
    assert client.state("Counter", actor_id) is None
    ids = [client.send("Counter", actor_id, "increment", by=n) for n in range(1, 21)]
    assert ids == sorted(ids), "each id is greater than the last this client was given"
    assert len(set(ids)) == 20
    assert all(len(i) == 26 and i == i.upper() for i in ids)
    assert client.state("Counter", actor_id) == {"value": 210}


def test_call_returns_the_methods_value(client, actor_id):
    assert client.call("Counter", actor_id, "increment", by=5) == 5
    assert client.call("Counter", actor_id, "increment", by=-2) == 3
    assert client.call("Counter", actor_id, "get") == 3


def test_an_err_comes_back_as_handler_error_with_the_decoded_error(client, actor_id):
    assert client.call("Account", actor_id, "deposit", amount=10) == 10
    with pytest.raises(HandlerError) as raised:
        client.call("Account", actor_id, "withdraw", amount=25)
    assert raised.value.error == {"InsufficientFunds": {"balance": 10, "requested": 25}}
    with pytest.raises(HandlerError) as raised:
        client.call("Account", actor_id, "deposit", amount=-1)
    assert raised.value.error == {"InvalidAmount": -1}
    assert client.state("Account", actor_id)["balance"] == 10


def test_an_idempotency_key_applies_a_message_once(client, actor_id):
    client.send("Counter", actor_id, "increment", by=7, key="order-1")
    client.send("Counter", actor_id, "increment", by=7, key="order-1")
    assert client.call("Counter", actor_id, "get") == 7
    with pytest.raises(Duplicate):
        client.call("Counter", actor_id, "increment", by=7, key="order-1")
    assert client.state("Counter", actor_id) == {"value": 7}


def test_a_rejected_tell_is_a_dead_letter_with_its_method_and_arguments(client, actor_id):
    client.send("Account", actor_id, "withdraw", amount=5)
    letters = client.dead_letters("Account", actor_id)
    assert len(letters) == 1
    letter = letters[0]
    assert (letter.method, letter.arguments, letter.kind, letter.ask) == ("withdraw", {"amount": 5}, "rejected", False)
    assert "InsufficientFunds" in letter.error
    assert letter.attempts == 1 and letter.at_millis > 0


def test_a_body_that_is_not_a_message_of_the_type_is_refused_before_it_is_queued(client, actor_id):
    with pytest.raises(InvocationFailed) as raised:
        client.send("Counter", actor_id, "incremnt", by=1)
    message = str(raised.value)
    assert "not a message of actor type `Counter`" in message, message
    assert "incremnt" in message, message
    with pytest.raises(InvocationFailed) as raised:
        client.send("Counter", actor_id, "increment", by="one")
    assert "not a message of actor type `Counter`" in str(raised.value)
    assert client.state("Counter", actor_id) is None, "nothing ran"
    assert client.call("Counter", actor_id, "get") == 0, "nothing was queued"


def test_invalid_addresses_are_refused_before_any_request(client):
    for actor_type, actor_id in [("Counter", ""), ("Counter", "a/b"), ("Count er", "x"), ("Counter", "x" * 513)]:
        with pytest.raises(ValueError):
            client.send(actor_type, actor_id, "increment", by=1)


def test_a_malformed_invocation_is_answered_with_the_expected_shape(clients, client):
    """AWS answers a function error with HTTP 200 and `FunctionError`; the emulator with
    HTTP 500. Either way the body names the error and the expected shape. (`client` is
    there for the hook it installs on the Lambda client, which reads the emulator's.)"""
    _, lambda_client, _ = clients
    for payload in [{"id": "c1"}, {"actor": "a/b"}, {"actor": "c1", "send": {"body": "%%%"}}]:
        try:
            out = lambda_client.invoke(FunctionName="counter-function", Payload=json.dumps(payload).encode())
            body = out["Payload"].read().decode()
            assert out.get("FunctionError"), body
            error = json.loads(body)
        except lambda_client.exceptions.ClientError as raised:
            error = {"errorType": raised.response["Error"].get("Code"), "errorMessage": raised.response["Error"].get("Message")}
        assert error["errorType"] == "MQLess.InvalidInvocation", error
        assert '"actor": "<id>"' in error["errorMessage"], error


def test_the_readme_example_runs_as_written(clients, monkeypatch, capsys):
    """The guide's "Other languages" block (docs/guide/other-languages.md), run as a user would (default boto3 clients,
    configured by the environment), on a fresh account id and the test table."""
    import os
    import pathlib
    import re
    import uuid

    _, _, table = clients
    page = pathlib.Path(__file__).parents[3] / "docs" / "guide" / "other-languages.md"
    code = re.search(r"```python\n(.*?)```", page.read_text(), re.S).group(1)
    account = "readme-" + uuid.uuid4().hex
    code = code.replace('table="mqless"', f"table={table!r}").replace('"alice"', repr(account))
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", os.environ["MQLESS_TEST_DYNAMODB_ENDPOINT"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", os.environ["MQLESS_TEST_LAMBDA_ENDPOINT"])
    exec(compile(code, "other-languages.md", "exec"), {})
    assert capsys.readouterr().out.splitlines() == ["70", "{'balance': 70, 'lowest': 0, 'operations': 2}"]


def test_a_scheduled_message_runs_after_its_time_through_the_sweeper(clients, client, actor_id):
    """`schedule` queues a message for later; the sweeper function delivers it once due."""
    import time

    _, lambda_client, _ = clients
    client.send("Counter", actor_id, "increment", by=1)
    message_id = client.schedule("Counter", actor_id, "increment", {"by": 5}, delay=4.0, name="later")
    assert len(message_id) == 26
    assert client.state("Counter", actor_id) == {"value": 1}, "not before its time"
    deadline = time.monotonic() + 30
    while client.state("Counter", actor_id) != {"value": 6}:
        assert time.monotonic() < deadline, "the sweeper never delivered it"
        lambda_client.invoke(FunctionName="sweeper-function", Payload=b"{}")
        time.sleep(0.1)
    # The next immediate send is not held behind anything.
    assert client.call("Counter", actor_id, "increment", by=1) == 7


@pytest.mark.parametrize("shape", ["aws", "emulator"])
def test_a_send_no_read_settled_raises_outcome_unknown(shape):
    """The function's `MQLess.OutcomeUnknown` (its put got no answer, and no read could
    tell whether the message ran): `OutcomeUnknown`, an `InvocationFailed`, in both
    shapes a function error comes in. Such an error needs a lost DynamoDB answer inside
    the function, so botocore's Stubber gives the client the function's answer."""
    import io

    import boto3
    import botocore.response
    import botocore.stub

    from mqless_client import Client, OutcomeUnknown

    lambda_client = boto3.client("lambda", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    error = {"errorType": "MQLess.OutcomeUnknown", "errorMessage": "store error (OutcomeUnknown): resend it with an idempotency key"}
    with botocore.stub.Stubber(lambda_client) as stub:
        if shape == "aws":
            body = json.dumps(error).encode()
            payload = botocore.response.StreamingBody(io.BytesIO(body), len(body))
            stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": payload})
        else:
            stub.add_client_error(
                "invoke", service_error_code=error["errorType"], service_message=error["errorMessage"], http_status_code=500
            )
        client = Client(table="t", dynamodb=dynamodb, lambda_client=lambda_client, key_layout="v1")
        with pytest.raises(OutcomeUnknown, match="idempotency key"):
            client.send("Counter", "c", "increment", by=1)
