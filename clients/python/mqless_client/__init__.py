"""A Python client of MQLess actors, written from docs/wire.md (wire protocol v1).

    from mqless_client import Client
    bank = Client(table="mqless", functions={"Account": "account-function"})
    bank.send("Account", "alice", "deposit", amount=100)
    print(bank.call("Account", "alice", "withdraw", amount=30))   # 70
    print(bank.state("Account", "alice"))                          # {'balance': 70, ...}

Messages go through the actor's function (the `send` invocation), which gives each one
an ordered id: nothing here generates ids.
"""

from .client import Client, DeadLetter
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

__all__ = [
    "AskTimeout",
    "Client",
    "DeadLetter",
    "DeadLettered",
    "Duplicate",
    "HandlerError",
    "InvocationFailed",
    "MQLessError",
    "OutcomeUnknown",
    "Quarantined",
]
