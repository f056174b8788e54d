"""The explicit list of connector kinds, and the one place accounts are built."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

from connectors.base import AccountSettings, Connector
from connectors.dry_run import DryRunConnector
from connectors.facebook import FacebookPageConnector
from connectors.flickr import FlickrConnector
from connectors.instagram import InstagramConnector
from connectors.static_blog import StaticBlogConnector
from connectors.wordpress import WordPressConnector
from connectors.x import XConnector
from connectors.youtube import YouTubeConnector
from scheduler.clock import Clock

# (the account's settings, the clock, every account's settings) -> the connector
ConnectorFactory: TypeAlias = Callable[
    [AccountSettings, Clock, Mapping[str, AccountSettings]], Connector
]


def _own_settings(kind: Callable[[AccountSettings, Clock], Connector]) -> ConnectorFactory:
    return lambda settings, clock, _accounts: kind(settings, clock)


KINDS: Mapping[str, ConnectorFactory] = {
    DryRunConnector.kind: _own_settings(DryRunConnector),
    StaticBlogConnector.kind: _own_settings(StaticBlogConnector),
    FacebookPageConnector.kind: _own_settings(FacebookPageConnector),
    # Instagram may host its media on a blog account: it sees the other accounts.
    InstagramConnector.kind: lambda settings, clock, accounts: InstagramConnector(
        settings, clock, accounts=accounts
    ),
    FlickrConnector.kind: _own_settings(FlickrConnector),
    WordPressConnector.kind: _own_settings(WordPressConnector),
    XConnector.kind: _own_settings(XConnector),
    YouTubeConnector.kind: _own_settings(YouTubeConnector),
}


class UnknownConnectorKind(ValueError):
    pass


def build_connector(
    settings: AccountSettings, clock: Clock, accounts: Mapping[str, AccountSettings] | None = None
) -> Connector:
    try:
        factory = KINDS[settings.kind]
    except KeyError:
        raise UnknownConnectorKind(
            f"account {settings.name!r} has kind {settings.kind!r}; "
            f"known kinds are {', '.join(sorted(KINDS))}"
        ) from None
    return factory(settings, clock, accounts or {settings.name: settings})


def build_connectors(accounts: Mapping[str, AccountSettings], clock: Clock) -> dict[str, Connector]:
    """Every configured account's connector."""
    return {name: build_connector(settings, clock, accounts) for name, settings in accounts.items()}
