"""The explicit list of connector kinds, and the one place accounts are built."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

from connectors.base import AccountSettings, Connector
from connectors.dry_run import DryRunConnector
from connectors.static_blog import StaticBlogConnector
from scheduler.clock import Clock

ConnectorFactory: TypeAlias = Callable[[AccountSettings, Clock], Connector]

KINDS: Mapping[str, ConnectorFactory] = {
    DryRunConnector.kind: DryRunConnector,
    StaticBlogConnector.kind: StaticBlogConnector,
}


class UnknownConnectorKind(ValueError):
    pass


def build_connector(settings: AccountSettings, clock: Clock) -> Connector:
    try:
        factory = KINDS[settings.kind]
    except KeyError:
        raise UnknownConnectorKind(
            f"account {settings.name!r} has kind {settings.kind!r}; "
            f"known kinds are {', '.join(sorted(KINDS))}"
        ) from None
    return factory(settings, clock)
