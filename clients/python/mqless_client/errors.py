"""What can go wrong, one exception type per outcome a caller handles differently."""


class MQLessError(Exception):
    """Every error of this client."""


class InvocationFailed(MQLessError):
    """The function refused the invocation or failed running it: the message says why
    (an invalid payload, a body that is not a message of the actor type, a store
    failure). Nothing was queued when it refused the payload."""


class OutcomeUnknown(InvocationFailed):
    """DynamoDB did not answer whether the message was queued, and nothing the function
    could read settles it: the message ran once, or never. It was not queued again,
    which could run it twice. Resend it with an idempotency key (`key=`) to be safe."""


class HandlerError(MQLessError):
    """The method returned `Err`: `error` is the decoded error value. The message was
    consumed and the state left as it was."""

    def __init__(self, error):
        super().__init__(f"the method returned an error: {error!r}")
        self.error = error


class DeadLettered(MQLessError):
    """The message was moved to the dead letters without a reply (it panicked, or kept
    crashing its handler): `reason` says why. See `Client.dead_letters`."""

    def __init__(self, reason):
        super().__init__(f"the message was dead-lettered: {reason}")
        self.reason = reason


class Duplicate(MQLessError):
    """A message with the same idempotency key was already consumed: this one was
    skipped, and its reply is not available."""


class Quarantined(MQLessError):
    """The actor is quarantined (its own record failed, e.g. its state no longer
    decodes): nothing runs until an operator lifts it. The message stays queued."""

    def __init__(self, reason):
        super().__init__(f"the actor is quarantined: {reason}")
        self.reason = reason


class AskTimeout(MQLessError):
    """No reply within the timeout. The message is queued and may still run."""
