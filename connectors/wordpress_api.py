"""A small client for the WordPress REST API (``/wp-json/wp/v2``), Application Password auth.

The PyPI wrappers for WordPress are obsolete (XML-RPC), so this is plain ``requests``. Every
call has a timeout and every failure leaves as one of :mod:`connectors.errors`, the original
exception kept as ``__cause__``:

- 401, or a 400 whose detail carries status 401 (WordPress answers a request whose
  Application Password it did not accept as if it were anonymous, so asking for
  ``status=future`` then fails as "Status is forbidden"): ``AuthExpired``;
- 403 and the other 4xx: ``Permanent`` with WordPress's own message and the parameter names;
- 429: ``RateLimited`` until ``Retry-After`` (WordPress itself has no limit; hosts do);
- 5xx, a read timeout or a connection broken after the request left: ``Ambiguous`` when the
  request creates a post (``creates=True``), ``Retryable`` otherwise;
- a connection that never opened: ``Retryable``.

Redirects are not followed: requests turns a redirected POST into a GET, which would "succeed"
without creating anything. A redirect is reported as a wrong ``base_url``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import AccountSettings, RequestTimeout, parse_options
from connectors.credentials import Secret
from connectors.errors import (
    AuthExpired,
    Permanent,
    PublishError,
)
from connectors.http import lost_answer, refusal
from scheduler.clock import Clock, SystemClock
from scheduler.durations import Duration

log = logging.getLogger(__name__)

Taxonomy = Literal["categories", "tags"]
# Every status a post of ours can be in after a create (a person may have unpublished it).
LOOKUP_STATUSES = "publish,future,draft,pending,private"
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=1)
_NOT_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_TERM_NOUN = {"categories": "category", "tags": "tag"}
# What a person must change for each refusal, said once here rather than at each call site.
_TERM_HINT = {
    "categories": "create the category in Posts > Categories, or give the user a role that "
    "may manage categories (Editor)",
    "tags": "create the tag in Posts > Tags, or give the user a role that may assign tags "
    "(Author or higher)",
}


_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class WordPressOptions(BaseModel):
    """A ``wordpress`` account's options in config.yaml (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The site address, e.g. https://blog.example.org; the REST root is base_url + /wp-json/.
    base_url: str
    username: str = Field(min_length=1)
    # Category names every post of this account is filed under (created when missing).
    categories: tuple[str, ...] = ()
    # How long before its time a post is handed to WordPress, which publishes it itself.
    schedule_ahead: Duration = timedelta(days=7)
    timeout: RequestTimeout = timedelta(seconds=30)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an https:// address")
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r} must be the site address, without ? or #")
        local = parts.hostname in _LOCAL_HOSTS or parts.hostname.endswith(".localhost")
        # WordPress only accepts Application Passwords over HTTPS (or on a site whose
        # WP_ENVIRONMENT_TYPE is local); over plain http it would treat us as anonymous.
        if parts.scheme == "http" and not local:
            raise ValueError(f"{value!r} must use https:// (http:// only for localhost)")
        return value.rstrip("/")

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not name.strip() for name in value):
            raise ValueError("a category name is empty")
        return value


@dataclass(frozen=True, kw_only=True)
class UploadedMedia:
    """An item of the blog's media library."""

    id: int
    source_url: str


@dataclass(frozen=True, kw_only=True)
class WordPressPost:
    """A post as the API returns it: ``link`` is its permalink (``/?p=ID`` while future)."""

    id: int
    slug: str
    status: str
    link: str
    permalink_template: str | None = None
    date_gmt: datetime | None = None  # aware UTC


@dataclass(frozen=True, kw_only=True)
class WordPressUser:
    id: int
    name: str
    slug: str
    roles: tuple[str, ...]
    capabilities: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class NewPost:
    """What ``create_post`` sends; ``date_gmt`` None means "now"."""

    title: str
    content: str
    excerpt: str
    slug: str
    date_gmt: datetime | None
    categories: tuple[int, ...] = ()
    tags: tuple[int, ...] = ()
    featured_media: int | None = None


class WordPressClient:
    """One blog, one user. ``base_url`` is the site address; the REST root is ``/wp-json/``."""

    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        password: Secret,
        session: requests.Session,
        timeout: float,
        clock: Clock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self.session = session
        self.timeout = timeout
        self.clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"WordPressClient(base_url={self.base_url!r}, username={self.username!r})"

    # -- reads -------------------------------------------------------------------------

    def me(self) -> WordPressUser:
        """The user the Application Password belongs to, with its capabilities."""
        body = self._call("GET", "/wp/v2/users/me", params={"context": "edit"})
        capabilities = body.get("capabilities") or {}
        return WordPressUser(
            id=int(body["id"]),
            name=str(body.get("name", "")),
            slug=str(body.get("slug", "")),
            roles=tuple(body.get("roles") or ()),
            capabilities=frozenset(name for name, held in capabilities.items() if held),
        )

    def post_by_slug(self, slug: str) -> WordPressPost | None:
        """Our post with exactly this slug in any status, or None."""
        params = {"slug": slug, "status": LOOKUP_STATUSES, "context": "edit"}
        found = self._call("GET", "/wp/v2/posts", params=params)
        for item in found if isinstance(found, list) else []:
            if item.get("slug") == slug:
                return _post(item)
        return None

    def post_by_id(self, post_id: int) -> WordPressPost | None:
        """The post in any status, or None when WordPress no longer has it
        (``rest_post_invalid_id``, as trashed-and-emptied or deleted posts answer)."""
        try:
            body = self._call("GET", f"/wp/v2/posts/{post_id}", params={"context": "edit"})
        except WordPressRefusal as refusal:
            if refusal.code == "rest_post_invalid_id":
                return None
            raise
        return _post(body)

    def trash_post(self, post_id: int) -> None:
        """``DELETE /wp/v2/posts/{id}`` moves it to the trash (REST API, posts: delete);
        a post already trashed or gone is fine."""
        try:
            self._call("DELETE", f"/wp/v2/posts/{post_id}")
        except WordPressRefusal as refusal:
            if refusal.code not in ("rest_already_trashed", "rest_post_invalid_id"):
                raise

    def update_post_date(self, post_id: int, date_gmt: datetime) -> WordPressPost:
        """A future post's new ``date_gmt``; WordPress keeps it scheduled for then."""
        when = date_gmt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return _post(self._call("POST", f"/wp/v2/posts/{post_id}", json={"date_gmt": when}))

    def find_term(self, taxonomy: Taxonomy, name: str) -> int | None:
        """The id of the term named ``name`` (as WordPress compares names: case-insensitive)."""
        params = {"search": name, "per_page": 100}
        found = self._call("GET", f"/wp/v2/{taxonomy}", params=params)
        wanted = name.strip().casefold()
        for term in found if isinstance(found, list) else []:
            # Names come back HTML-escaped ("Arts &amp; culture").
            if unescape(str(term.get("name", ""))).strip().casefold() == wanted:
                return int(term["id"])
        return None

    # -- writes ------------------------------------------------------------------------

    def term_id(self, taxonomy: Taxonomy, name: str) -> int:
        """The term's id, created first when it is missing (if the user may)."""
        existing = self.find_term(taxonomy, name)
        if existing is not None:
            return existing
        noun = _TERM_NOUN[taxonomy]
        try:
            body = self._call("POST", f"/wp/v2/{taxonomy}", json={"name": name})
        except WordPressRefusal as error:
            if error.term_id is not None:  # term_exists: created meanwhile, or a search miss
                return error.term_id
            if error.code == "rest_cannot_create":
                raise Permanent(
                    f"WordPress user {self.username!r} may not create the {noun} {name!r}: "
                    f"{error.message} To fix: {_TERM_HINT[taxonomy]}.",
                    http_status=error.http_status,
                ) from error
            raise
        log.info("created the %s %r on %s", noun, name, self.base_url)
        return int(body["id"])

    def upload_file(self, path: Path, *, mime_type: str, filename: str) -> UploadedMedia:
        """Upload ``path`` to the media library as the raw request body.

        A lost answer raises ``Retryable``, not ``Ambiguous``: the worst a second upload does
        is leave an unattached copy in the media library, which nobody sees.
        """
        try:
            data = path.read_bytes()
        except OSError as error:
            raise Permanent(f"cannot read the media file {path}: {error.strerror}") from error
        headers = {
            "Content-Type": mime_type,
            "Content-Disposition": f'attachment; filename="{safe_file_name(filename)}"',
        }
        body = self._call("POST", "/wp/v2/media", data=data, headers=headers)
        return UploadedMedia(id=int(body["id"]), source_url=str(body["source_url"]))

    def update_media(
        self, media_id: int, *, alt: str | None = None, post: int | None = None
    ) -> None:
        """Set an item's alternative text and/or the post it is attached to."""
        fields: dict[str, Any] = {}
        if alt is not None:
            fields["alt_text"] = alt
        if post is not None:
            fields["post"] = post
        if fields:
            self._call("POST", f"/wp/v2/media/{media_id}", json=fields)

    def upload_media(
        self, path: Path, *, mime_type: str, filename: str, alt: str | None
    ) -> UploadedMedia:
        """Upload a file and set its alternative text; returns its id and public URL."""
        uploaded = self.upload_file(path, mime_type=mime_type, filename=filename)
        if alt:
            self.update_media(uploaded.id, alt=alt)
        return uploaded

    def create_post(self, post: NewPost) -> WordPressPost:
        """Create a published post; with ``date_gmt`` a minute or more ahead, WordPress
        stores it as ``future`` and publishes it then. Lost answers raise ``Ambiguous``."""
        fields: dict[str, Any] = {
            "title": post.title,
            "content": post.content,
            "excerpt": post.excerpt,
            "slug": post.slug,
            "status": "publish",
        }
        # An empty list files the post under no category at all (WordPress 6.1); left out,
        # WordPress uses the blog's default category ("Uncategorized").
        if post.categories:
            fields["categories"] = list(post.categories)
        if post.tags:
            fields["tags"] = list(post.tags)
        if post.date_gmt is not None:
            fields["date_gmt"] = post.date_gmt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if post.featured_media is not None:
            fields["featured_media"] = post.featured_media
        body = self._call("POST", "/wp/v2/posts", json=fields, creates=True)
        return _post(body)

    # -- transport ---------------------------------------------------------------------

    def _call(
        self,
        method: str,
        route: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        creates: bool = False,
    ) -> Any:
        url = f"{self.base_url}/wp-json{route}"
        where = f"{method} {route} on {self.base_url}"
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=headers,
                auth=(self.username, self._password.reveal()),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise lost_answer(error, where=where, creating=creates) from error
        if 200 <= response.status_code < 300:
            try:
                return response.json()
            except ValueError as error:  # cut off on the way: the platform did act
                raise lost_answer(error, where=where, creating=creates) from error
        raise self._failure(response, where, creates)

    def _auth_message(self, said: str) -> str:
        return (
            f"WordPress at {self.base_url} did not accept user {self.username!r} with its "
            f"Application Password ({said}); create a new Application Password in "
            "Users > Profile and store it as the secret application_password"
        )

    def _failure(self, response: requests.Response, where: str, creates: bool) -> PublishError:
        status = response.status_code
        error = _WordPressError.parse(response)
        said = error.describe() if error.code else f"HTTP {status}"
        if 300 <= status < 400:
            target = response.headers.get("Location", "elsewhere")
            return Permanent(
                f"{where} was redirected to {target}; set base_url to the blog's final "
                "https address",
                http_status=status,
            )
        if status >= 500 and error.code == "rest_upload_sideload_error":
            return Permanent(f"{where}: {said}", http_status=status)  # the file type, refused
        if error.refused_as_anonymous():
            return AuthExpired(self._auth_message(said), http_status=status)
        if status in (401, 408, 429) or status >= 500:
            return refusal(
                status,
                words=said,
                headers=response.headers,
                where=where,
                creating=creates,
                now=self.clock.now(),
                rate_limit_wait=DEFAULT_RATE_LIMIT_WAIT,
                auth_message=self._auth_message,
            )
        return WordPressRefusal(
            f"{where}: {said}", http_status=status, code=error.code, term_id=error.term_id
        )


class WordPressRefusal(Permanent):
    """WordPress refused the request; ``code`` is its error code (``rest_cannot_create``),
    ``term_id`` the existing term for ``term_exists``."""

    def __init__(
        self, message: str, *, http_status: int, code: str | None, term_id: int | None
    ) -> None:
        super().__init__(message, http_status=http_status)
        self.code = code
        self.term_id = term_id


@dataclass(frozen=True, kw_only=True)
class _WordPressError:
    """A WordPress error body: ``{"code", "message", "data": {"status", "params", ...}}``."""

    code: str | None
    message: str
    params: dict[str, str]
    detail_statuses: tuple[int, ...]
    term_id: int | None

    @classmethod
    def parse(cls, response: requests.Response) -> _WordPressError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return cls(code=None, message="", params={}, detail_statuses=(), term_id=None)
        data = _mapping(body.get("data"))
        params = _mapping(data.get("params"))
        details = _mapping(data.get("details"))
        statuses = tuple(
            int(detail["data"]["status"])
            for detail in details.values()
            if isinstance(detail, dict)
            and isinstance(detail.get("data"), dict)
            and isinstance(detail["data"].get("status"), int)
        )
        term_id = data.get("term_id") if body.get("code") == "term_exists" else None
        return cls(
            code=str(body.get("code")) if body.get("code") else None,
            message=str(body.get("message", "")),
            params={str(key): str(value) for key, value in params.items()},
            detail_statuses=statuses,
            term_id=int(term_id) if isinstance(term_id, int) else None,
        )

    def refused_as_anonymous(self) -> bool:
        return self.code == "rest_invalid_param" and 401 in self.detail_statuses

    def describe(self) -> str:
        text = f"{self.message} ({self.code})"
        if self.params:
            text += " " + "; ".join(f"{name}: {why}" for name, why in self.params.items())
        return text


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _post(body: Any) -> WordPressPost:
    template = body.get("permalink_template")
    date = body.get("date_gmt")
    return WordPressPost(
        id=int(body["id"]),
        slug=str(body.get("slug", "")),
        status=str(body.get("status", "")),
        link=str(body.get("link", "")),
        permalink_template=str(template) if template else None,
        # The REST API gives date_gmt without a zone: it is UTC.
        date_gmt=datetime.fromisoformat(date).replace(tzinfo=UTC) if date else None,
    )


def safe_file_name(name: str) -> str:
    """An ASCII file name for ``Content-Disposition`` (WordPress 6.1 ignores ``filename*``)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = _NOT_FILE_NAME.sub("-", ascii_name).strip("-.")
    return cleaned or "upload"


def wordpress_client_for(
    settings: AccountSettings,
    session: requests.Session | None = None,
    *,
    clock: Clock | None = None,
) -> WordPressClient:
    """The client for a ``wordpress`` account: options ``base_url``, ``username`` and
    ``timeout``, secret ``application_password``. Raises ``ValueError`` for unusable options
    and ``MissingCredential`` (naming where to put it) when the secret is missing."""
    options = parse_options(WordPressOptions, settings)
    return WordPressClient(
        base_url=options.base_url,
        username=options.username,
        password=settings.secrets().get("application_password"),
        session=session or requests.Session(),
        timeout=options.timeout.total_seconds(),
        clock=clock,
    )
