"""The explicit list of connector kinds, and the one place accounts are built."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

from connectors.base import AccountSettings, Connector
from scheduler.clock import Clock

# (the account's settings, the clock, every account's settings) -> the connector
ConnectorFactory: TypeAlias = Callable[
    [AccountSettings, Clock, Mapping[str, AccountSettings]], Connector
]


def _dry_run(
    settings: AccountSettings, clock: Clock, _: Mapping[str, AccountSettings]
) -> Connector:
    from connectors.dry_run import DryRunConnector

    return DryRunConnector(settings, clock, imitate=_imitated_platform)


def _imitated_platform(settings: AccountSettings, clock: Clock) -> Connector:
    """The platform connector a dry-run account imitates (``like:``); only its offline half
    is used."""
    if settings.kind not in KINDS or settings.kind == "dry_run":
        raise ValueError(
            f"account {settings.name!r} (dry_run): like: {settings.kind!r} is not a platform "
            f"kind ({', '.join(sorted(set(KINDS) - {'dry_run'}))})"
        )
    return build_connector(settings, clock)


def _static_blog(
    settings: AccountSettings, clock: Clock, _: Mapping[str, AccountSettings]
) -> Connector:
    from connectors.static_blog import StaticBlogConnector

    return StaticBlogConnector(settings, clock)


def _facebook_page(
    settings: AccountSettings, clock: Clock, _: Mapping[str, AccountSettings]
) -> Connector:
    from connectors.facebook import FacebookPageConnector

    return FacebookPageConnector(settings, clock)


def _instagram(
    settings: AccountSettings, clock: Clock, accounts: Mapping[str, AccountSettings]
) -> Connector:
    from connectors.instagram import InstagramConnector

    # Instagram may host its media on a blog account: it sees the other accounts.
    return InstagramConnector(settings, clock, accounts=accounts)


def _flickr(settings: AccountSettings, clock: Clock, _: Mapping[str, AccountSettings]) -> Connector:
    from connectors.flickr import FlickrConnector

    return FlickrConnector(settings, clock)


def _wordpress(
    settings: AccountSettings, clock: Clock, _: Mapping[str, AccountSettings]
) -> Connector:
    from connectors.wordpress import WordPressConnector

    return WordPressConnector(settings, clock)


def _x(settings: AccountSettings, clock: Clock, _: Mapping[str, AccountSettings]) -> Connector:
    from connectors.x import XConnector

    return XConnector(settings, clock)


def _mastodon(
    settings: AccountSettings, clock: Clock, _: Mapping[str, AccountSettings]
) -> Connector:
    from connectors.mastodon import MastodonConnector

    return MastodonConnector(settings, clock)


def _bluesky(
    settings: AccountSettings, clock: Clock, _: Mapping[str, AccountSettings]
) -> Connector:
    from connectors.bluesky import BlueskyConnector

    return BlueskyConnector(settings, clock)


def _youtube(
    settings: AccountSettings, clock: Clock, _: Mapping[str, AccountSettings]
) -> Connector:
    from connectors.youtube import YouTubeConnector

    return YouTubeConnector(settings, clock)


# Each platform's module (and its client library: googleapiclient, flickrapi, twitter-text...)
# is imported only when an account of that kind is built, so a daemon or a CLI command
# pays start-up time and memory only for the platforms config.yaml uses.
KINDS: Mapping[str, ConnectorFactory] = {
    "dry_run": _dry_run,
    "static_blog": _static_blog,
    "facebook_page": _facebook_page,
    "instagram": _instagram,
    "flickr": _flickr,
    "wordpress": _wordpress,
    "x": _x,
    "youtube": _youtube,
    "mastodon": _mastodon,
    "bluesky": _bluesky,
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
