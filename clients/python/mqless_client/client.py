"""The client: `send`, `call`, `state`, `dead_letters` (docs/wire.md, wire protocol v1)."""

import base64
import json
import os
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

import boto3
import botocore.config
import botocore.exceptions
import msgpack

from .errors import (
    AskTimeout,
    DeadLettered,
    Duplicate,
    HandlerError,
    InvocationFailed,
    MQLessError,
    OutcomeUnknown,
    Quarantined,
)

MAX_ACTOR_TYPE_LEN = 64
MAX_ACTOR_ID_LEN = 512
MAX_KEY_LEN = 128


@dataclass(frozen=True)
class DeadLetter:
    """A message moved out of an actor's mailbox (docs/wire.md, "Dead letters")."""

    id: str
    method: str
    arguments: Dict[str, Any]
    error: str
    attempts: int
    at_millis: int
    kind: str
    ask: bool
    key: Optional[str]


class Client:
    """Talks to the actors of one MQLess table.

    `functions` maps actor types to function names (as `MQLESS_FUNCTIONS` does);
    a type not in it is served by `function_prefix + type`. `timeout` bounds `call`.
    Pass `dynamodb` / `lambda_client` (boto3 clients) to choose endpoints and
    credentials; the Lambda client should not retry on its own (a retried send without
    an idempotency key would queue the message twice), which is how the default one is
    built.

    `key_layout` is the table's: as given, else `MQLESS_KEY_LAYOUT`, else the layout the
    table records (docs/wire.md, "Table"; one consistent read when the client is made),
    "v1" for a table that records none. In "v2" a `call`
    names who asks, and its reply, when it does not come back in the function's answer,
    is kept where only that identity may read it: `asker` (`MQLESS_ASKER`), else the
    caller's IAM user id, asked of STS (`sts_client`) at the first call.
    """

    def __init__(
        self,
        table: str,
        functions: Optional[Mapping[str, str]] = None,
        function_prefix: str = "",
        timeout: float = 30.0,
        dynamodb=None,
        lambda_client=None,
        key_layout: Optional[str] = None,
        asker: Optional[str] = None,
        sts_client=None,
    ):
        self.table = table
        self._dynamodb = dynamodb or boto3.client("dynamodb")
        told = key_layout if key_layout is not None else os.environ.get("MQLESS_KEY_LAYOUT", "")
        self.key_layout = _key_layout(told) if told else self._recorded_key_layout()
        self._asker = asker or os.environ.get("MQLESS_ASKER") or None
        if self._asker is not None:
            _check_asker(self._asker)
        self._sts = sts_client
        self.functions = dict(functions or {})
        self.function_prefix = function_prefix
        self.timeout = timeout
        self._lambda = lambda_client or boto3.client(
            "lambda",
            config=botocore.config.Config(
                read_timeout=timeout + 5, retries={"max_attempts": 0}
            ),
        )
        _read_function_errors(self._lambda)
        # The last id a function gave this client: the next one must be greater, so this
        # client's messages stay in order whichever function instance queues them.
        self._last_id: Optional[str] = None
        self._lock = threading.Lock()

    def _recorded_key_layout(self) -> str:
        """The layout the table records (`~table`/`layout`): "v1" when it records none (a
        table from before tables recorded it), "v2" when there is no table yet (what
        `mqless table create` records). The transitional "v1-to-v2" writes as "v2"."""
        try:
            item = self._dynamodb.get_item(
                TableName=self.table,
                Key={"pk": {"S": "~table"}, "sk": {"S": "layout"}},
                ConsistentRead=True,
            ).get("Item")
        except self._dynamodb.exceptions.ResourceNotFoundException:
            return "v2"
        except botocore.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") != "AccessDeniedException":
                raise
            # A role from before tables recorded their layout, on a table from then.
            warnings.warn(
                f"IAM refuses reading the key layout table {self.table} records (its `~table` item): "
                "using v1, the layout of tables from before; pass key_layout or set MQLESS_KEY_LAYOUT",
                stacklevel=3,
            )
            return "v1"
        if item is None:
            return "v1"
        recorded = item.get("kl", {}).get("S", "")
        try:
            return _key_layout(recorded or "?")
        except ValueError:
            raise ValueError(
                f"table {self.table} records key layout {recorded!r}, which this client does not know: "
                "upgrade mqless_client, or pass key_layout (or set MQLESS_KEY_LAYOUT)"
            ) from None

    # -- messages ---------------------------------------------------------------------

    def send(self, actor_type: str, actor_id: str, method: str, *, key: Optional[str] = None, **arguments) -> str:
        """Queues `method(**arguments)` for the actor and returns its message id. The
        function drains the mailbox before answering, so the message has run unless
        another invocation holds the actor (then that one runs it)."""
        result = self._send(actor_type, actor_id, method, arguments, ask=False, key=key)
        return result["id"]

    def schedule(
        self,
        actor_type: str,
        actor_id: str,
        method: str,
        arguments: Optional[Mapping[str, Any]] = None,
        *,
        delay: Optional[float] = None,
        at: Optional[float] = None,
        name: Optional[str] = None,
        key: Optional[str] = None,
    ) -> str:
        """Queues `method(**arguments)` to run no earlier than `delay` seconds from now, or
        than `at` (seconds since the Unix epoch), and returns its message id. `name`
        lets the Rust API cancel it by name (`Actors::cancel_scheduled`). Deployed, the
        sweeper delivers it within one of its periods after its time."""
        if (delay is None) == (at is None):
            raise ValueError("give exactly one of `delay` (seconds from now) and `at` (epoch seconds)")
        when = time.time() + delay if delay is not None else at
        result = self._send(
            actor_type, actor_id, method, dict(arguments or {}), ask=False, key=key,
            at_millis=int(when * 1000), name=name,
        )
        return result["id"]

    def call(self, actor_type: str, actor_id: str, method: str, *, key: Optional[str] = None, timeout: Optional[float] = None, **arguments):
        """Asks `method(**arguments)` and returns what it returned. Raises
        `HandlerError` when it returned `Err`, `DeadLettered`, `Duplicate`,
        `Quarantined`, or `AskTimeout` when no reply came within `timeout`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        asker = self._asker_identity() if self.key_layout == "v2" else None
        result = self._send(actor_type, actor_id, method, arguments, ask=True, key=key, asker=asker)
        if result.get("reply") is not None:
            return _decode_reply(base64.b64decode(result["reply"]))
        if result.get("end") == "Quarantined":
            raise Quarantined(result.get("quarantine", ""))
        # Another invocation held the actor: it runs the message and stores the reply.
        address = _address(actor_type, actor_id)
        return self._wait_reply(_reply_partition(address, asker), address, result["id"], deadline)

    def _asker_identity(self) -> str:
        """Who this client asks as in key layout v2: `asker`, else STS's `UserId`."""
        with self._lock:
            if self._asker is None:
                sts = self._sts or boto3.client("sts")
                try:
                    user_id = sts.get_caller_identity()["UserId"]
                except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
                    raise MQLessError(
                        f"key layout v2 keeps replies per asker, and asking STS who this client is failed ({error}); "
                        "pass asker= or set MQLESS_ASKER to this client's IAM user id"
                    ) from error
                _check_asker(user_id)
                self._asker = user_id
            return self._asker

    def _send(self, actor_type, actor_id, method, arguments, *, ask, key, at_millis=None, name=None, asker=None):
        address = _address(actor_type, actor_id)
        if not isinstance(method, str) or not method:
            raise ValueError("method is the method's wire name, a non-empty string")
        if key is not None and not 0 < len(key.encode()) <= MAX_KEY_LEN:
            raise ValueError(f"an idempotency key is 1 to {MAX_KEY_LEN} bytes")
        body = msgpack.packb({method: arguments}, use_bin_type=True)
        send = {"body": base64.b64encode(body).decode(), "ask": ask}
        if key is not None:
            send["key"] = key
        if at_millis is not None:
            send["at"] = at_millis
        if name is not None:
            send["name"] = name
        if asker is not None:
            send["asker"] = asker
        with self._lock:
            if self._last_id is not None:
                send["after"] = self._last_id
        payload = {"actor": actor_id, "actor_type": actor_type, "send": send}
        result = self._invoke(address, payload)
        # A scheduled message's id carries its delivery time: no floor for the next ids.
        if at_millis is None:
            with self._lock:
                if self._last_id is None or result["id"] > self._last_id:
                    self._last_id = result["id"]
        return result

    def _invoke(self, address, payload):
        actor_type = address.split("/", 1)[0]
        function = self.functions.get(actor_type, self.function_prefix + actor_type)
        try:
            out = self._lambda.invoke(
                FunctionName=function,
                InvocationType="RequestResponse",
                Payload=json.dumps(payload).encode(),
            )
        except botocore.exceptions.ReadTimeoutError as error:
            raise AskTimeout(f"function {function} did not answer in time; the message may be queued") from error
        except botocore.exceptions.BotoCoreError as error:
            raise InvocationFailed(f"invoking function {function} failed: {error}") from error
        except botocore.exceptions.ClientError as error:
            details = error.response.get("Error", {})
            if details.get("Code", "").startswith("MQLess."):
                # A function error, as the emulator reports it (see `_read_function_errors`).
                raise _function_error(function, details.get("Code"), details.get("Message")) from error
            raise InvocationFailed(f"invoking function {function} failed: {error}") from error
        body = out["Payload"].read()
        if out.get("FunctionError"):
            raise _function_error(function, *_error_type_and_message(body))
        try:
            result = json.loads(body)
        except ValueError as error:
            raise InvocationFailed(f"function {function} answered something that is not JSON: {body[:200]!r}") from error
        if not isinstance(result, dict) or "end" not in result:
            raise InvocationFailed(f"function {function} answered something that is not an MQLess result: {body[:200]!r}; is it an MQLess function?")
        return result

    def _wait_reply(self, partition, address, message_id, deadline):
        pause = 0.02
        while True:
            item = self._dynamodb.get_item(
                TableName=self.table,
                Key={"pk": {"S": partition}, "sk": {"S": "r#" + message_id}},
                ConsistentRead=True,
            ).get("Item")
            if item is not None:
                return _decode_reply(item["rep"]["B"])
            if time.monotonic() >= deadline:
                raise AskTimeout(f"no reply to {message_id} from {address} in time; the message is queued and may still run")
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)

    # -- inspection -------------------------------------------------------------------

    def state(self, actor_type: str, actor_id: str):
        """The actor's committed state, decoded (None if it never committed). Messages
        still queued are not included."""
        item = self._dynamodb.get_item(
            TableName=self.table,
            Key={"pk": {"S": _address(actor_type, actor_id)}, "sk": {"S": "#state"}},
            ConsistentRead=True,
            **_projection(["st"]),
        ).get("Item")
        if item is None or "st" not in item:
            return None
        return msgpack.unpackb(item["st"]["B"], raw=False)

    def dead_letters(self, actor_type: str, actor_id: str) -> List[DeadLetter]:
        """The actor's dead letters, oldest first."""
        letters = []
        request = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :d)",
            "ExpressionAttributeValues": {
                ":pk": {"S": _address(actor_type, actor_id)},
                ":d": {"S": "d#"},
            },
            "ConsistentRead": True,
        }
        request.update(_projection(["pk", "sk", "env", "err", "att", "at", "kind"]))
        while True:
            page = self._dynamodb.query(**request)
            letters.extend(_dead_letter(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return letters
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _projection(attributes):
    """The request parameters that read only `attributes` (through placeholders: `at` is
    a reserved word). A client reads only these of an actor's partition, and key layout
    v2's `ClientPolicy` allows no more: never a record's bookkeeping, which holds its
    last batch's replies to other askers too."""
    names = {f"#p{i}": name for i, name in enumerate(attributes)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def _reply_partition(address: str, asker: Optional[str]) -> str:
    """Where the reply to an ask of `address` is kept: `r/<type>/<id>/<asker>` for an ask
    that named its asker (key layout v2), else the actor's own partition."""
    return f"r/{address}/{asker}" if asker is not None else address


def _key_layout(name: str) -> str:
    """The table's key layout as this client writes it: "v1" (also when empty) or "v2".
    The transitional "v1-to-v2" (a table on its way to v2) writes as "v2" does: messages
    into `m/` partitions, replies named by their asker."""
    layout = {"": "v1", "v1": "v1", "1": "v1", "v2": "v2", "2": "v2", "v1-to-v2": "v2"}.get(name.lower())
    if layout is None:
        raise ValueError(f"key_layout (MQLESS_KEY_LAYOUT) is v1, v2 or v1-to-v2, not {name!r}")
    return layout


def _check_asker(asker: str) -> None:
    """An asker names a reply partition: 1 to 128 of letters, digits and `+=,.@_:-`."""
    allowed = set("+=,.@_:-")
    if not (0 < len(asker) <= 128 and all(c.isascii() and (c.isalnum() or c in allowed) for c in asker)):
        raise ValueError(f"an asker identity is 1 to 128 letters, digits and +=,.@_:- (an IAM user id), not {asker!r}")


def _address(actor_type: str, actor_id: str) -> str:
    """`type/id`, the partition key, after the checks the functions make."""
    if not (
        isinstance(actor_type, str)
        and 0 < len(actor_type) <= MAX_ACTOR_TYPE_LEN
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in actor_type)
    ):
        raise ValueError(f"actor type {actor_type!r}: 1 to {MAX_ACTOR_TYPE_LEN} ASCII letters, digits, '-' or '_'")
    if not (
        isinstance(actor_id, str)
        and 0 < len(actor_id.encode()) <= MAX_ACTOR_ID_LEN
        and "/" not in actor_id
        and all(c.isprintable() or c == " " for c in actor_id)
    ):
        raise ValueError(f"actor id {actor_id!r}: 1 to {MAX_ACTOR_ID_LEN} bytes of UTF-8, no control characters, no '/'")
    return f"{actor_type}/{actor_id}"


def _decode_reply(record: bytes):
    """A reply record: {"Ok": bin} | {"Err": bin} | {"DeadLettered": str} | "Duplicate"."""
    reply = msgpack.unpackb(record, raw=False)
    if reply == "Duplicate":
        raise Duplicate("a message with this idempotency key was already consumed; its reply is not available")
    if isinstance(reply, dict) and len(reply) == 1:
        (outcome, value), = reply.items()
        if outcome == "Ok":
            return msgpack.unpackb(value, raw=False)
        if outcome == "Err":
            raise HandlerError(msgpack.unpackb(value, raw=False))
        if outcome == "DeadLettered":
            raise DeadLettered(value)
    raise MQLessError(f"a reply this client does not know: {reply!r}")


def _dead_letter(item) -> DeadLetter:
    envelope = msgpack.unpackb(item["env"]["B"], raw=False)
    body = msgpack.unpackb(envelope["body"], raw=False)
    (method, arguments), = body.items() if isinstance(body, dict) and len(body) == 1 else ((None, body),)
    return DeadLetter(
        id=item["sk"]["S"][2:],
        method=method,
        arguments=arguments,
        error=item.get("err", {}).get("S", ""),
        attempts=int(item.get("att", {}).get("N", "0")),
        at_millis=int(item.get("at", {}).get("N", "0")),
        kind=item.get("kind", {}).get("S", "failed"),
        ask=bool(envelope.get("ask", False)),
        key=envelope.get("key"),
    )


def _read_function_errors(lambda_client):
    """AWS answers a function error with HTTP 200, `X-Amz-Function-Error` and the error
    JSON as the payload; cargo-lambda's emulator answers it with HTTP 500 and the same
    JSON, which botocore would turn into an error without a message. This hook puts the
    function's `errorType` and `errorMessage` into that error."""

    def hook(http_response, parsed, **_):
        if http_response.status_code < 500:
            return
        try:
            error = json.loads(http_response.content)
        except (ValueError, AttributeError):
            # Not JSON, or no body to read (a stubbed answer): the error stays as parsed.
            return
        if isinstance(error, dict) and "errorMessage" in error:
            parsed.setdefault("Error", {}).update(
                Code=error.get("errorType", "FunctionError"), Message=error["errorMessage"]
            )

    lambda_client.meta.events.register("after-call.lambda.Invoke", hook)


def _error_type_and_message(body: bytes):
    """The type and message of a Lambda function error ({"errorType", "errorMessage"}), or
    no type and the body."""
    try:
        error = json.loads(body)
        if isinstance(error, dict) and "errorMessage" in error:
            return error.get("errorType"), error["errorMessage"]
    except ValueError:
        pass
    return None, body.decode(errors="replace") or "(no message)"


def _function_error(function: str, error_type, message) -> InvocationFailed:
    """The exception for a function error: `OutcomeUnknown` for a send no read settled."""
    kind = OutcomeUnknown if error_type == "MQLess.OutcomeUnknown" else InvocationFailed
    return kind(f"function {function} failed: {message}")
