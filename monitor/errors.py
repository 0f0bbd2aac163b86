"""The exceptions the monitor raises, each with a message a user can act on."""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error the monitor reports to a user."""


class ConfigError(MonitorError):
    """The configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class FetchError(MonitorError):
    """A source could not be fetched (network, HTTP status, size, policy)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.transient = transient


class BlockedURLError(FetchError):
    """A URL was refused by policy: a private address, robots.txt, an unsupported scheme."""


class ParseError(MonitorError):
    """A fetched document could not be read as the kind of source it was configured as."""


class StoreError(MonitorError):
    """The database cannot be used: unreachable, read-only, or at an unknown schema version."""


class NotAvailableError(MonitorError):
    """A capability that this version of the monitor does not provide yet."""
