"""A stateful fake of the WordPress 6.1 REST API (``/wp-json/wp/v2``), as a WSGI app.

It keeps posts, media, categories and tags, and checks every request against the argument
lists recorded from a real WordPress 6.1.9 (``tests/data/wordpress-6.1/``: the ``OPTIONS``
answers and an extract of ``?context=help``): types, enums, dates, bounds and required
arguments give WordPress's own ``rest_invalid_param`` bodies; missing or wrong credentials,
missing capabilities and upload mistakes give the recorded error bodies.

One deliberate difference: WordPress silently ignores an argument it does not know; this fake
refuses it with a ``rest_invalid_param`` (detail ``rest_additional_properties_forbidden``),
because a misspelt field that WordPress drops (``feature_media``) is a bug of ours that a test
must catch. Like WordPress 6.1, a wrong Application Password is not refused as such: the
request runs as an anonymous visitor and fails on the first thing that needs a user.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.connectors.contract import ErrorClass
from tests.fakes.wsgi import DropConnection, ResetBeforeSending
from tests.support import FakeClock

DATA = Path(__file__).resolve().parents[1] / "data" / "wordpress-6.1"
SITE = "https://blog.example.org"
USERNAME = "editor"
APPLICATION_PASSWORD = "abcd EFGH ijkl MNOP qrst UVWX"
# Arguments WordPress accepts on every route (WP_REST_Server's global parameters).
GLOBAL_ARGS = frozenset({"_fields", "_embed", "_envelope", "_jsonp", "_method", "_locale"})
# Object arguments that also take a plain string (their arg_options drop the schema check).
STRING_OR_OBJECT = frozenset({"title", "content", "excerpt", "caption", "description"})
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}(:?\d{2})?)?$")
UPLOAD_TYPES = {  # extension -> (MIME type, magic bytes): WordPress sniffs images
    "jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    "png": ("image/png", b"\x89PNG"),
    "gif": ("image/gif", b"GIF8"),
    "webp": ("image/webp", b"RIFF"),
}


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _collection_args(name: str, method: str) -> dict[str, Any]:
    options = recorded(f"options-wp-v2-{name}.json")
    return next(e["args"] for e in options["endpoints"] if method in e["methods"])


def _route_args(route: str, method: str) -> dict[str, Any]:
    """An item route's arguments (the ``id`` comes from the path)."""
    endpoints = recorded("routes-extract.context-help.json")["routes"][route]["endpoints"]
    args = next(e["args"] for e in endpoints if method in e["methods"])
    return {name: spec for name, spec in args.items() if name != "id"}


class Refusal(Exception):
    """Answer with a WordPress error body."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.response = _json(
            {"code": code, "message": message, "data": {"status": status, **data}}, status
        )


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        headers=headers,
        content_type="application/json; charset=UTF-8",
    )


def _wp_list(items: list[str]) -> str:
    """wp_sprintf's %l: "a, b, and c"."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _check_value(name: str, value: Any, spec: dict[str, Any]) -> tuple[str, str] | None:
    """(code, message) when ``value`` breaks the schema (rest_validate_value_from_schema)."""
    types = spec.get("type", [])
    types = types if isinstance(types, list) else [types]
    if value is None and "null" in types:
        return None
    if name in STRING_OR_OBJECT and isinstance(value, str):
        return None
    kind = next((t for t in types if _is_type(value, t)), None)
    if kind is None:
        return (
            "rest_invalid_type",
            f"{name} is not of type {','.join(t for t in types if t != 'null')}.",
        )
    if kind == "array":
        for index, item in enumerate(_as_list(value)):
            problem = _check_value(f"{name}[{index}]", item, spec.get("items", {}))
            if problem:
                return problem
    if "enum" in spec and value not in spec["enum"]:
        return (
            "rest_not_in_enum",
            f"{name} is not one of {_wp_list([str(v) for v in spec['enum']])}.",
        )
    if spec.get("format") == "date-time" and not DATE.match(str(value)):
        return "rest_invalid_date", "Invalid date."
    if kind == "integer":
        low, high, number = spec.get("minimum"), spec.get("maximum"), int(value)
        if (low is not None and number < low) or (high is not None and number > high):
            return (
                "rest_out_of_bounds",
                f"{name} must be between {low} (inclusive) and {high} (inclusive)",
            )
    return None


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None
        )
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool) or value in ("true", "false", "1", "0")
    if kind == "array":
        return isinstance(value, list | str)
    if kind == "object":
        return isinstance(value, dict)
    return False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [v for v in re.split(r"[\s,]+", value) if v]


def validate(
    args: dict[str, Any], values: dict[str, Any], extra: dict[str, tuple[str, str]] | None = None
) -> None:
    """Raise WordPress's 400 for missing, unknown or invalid arguments."""
    missing = [name for name, spec in args.items() if spec.get("required") and name not in values]
    if missing:
        raise Refusal(
            400,
            "rest_missing_callback_param",
            f"Missing parameter(s): {', '.join(missing)}",
            params=missing,
        )
    problems: dict[str, tuple[str, str]] = {}
    for name, value in values.items():
        if name in GLOBAL_ARGS:
            continue
        if name not in args:
            problems[name] = (
                "rest_additional_properties_forbidden",
                f"{name} is not a valid property of Object.",
            )
            continue
        problem = _check_value(name, value, args[name])
        if problem:
            problems[name] = problem
    problems.update(extra or {})
    if problems:
        raise Refusal(
            400,
            "rest_invalid_param",
            f"Invalid parameter(s): {', '.join(problems)}",
            params={name: message for name, (_code, message) in problems.items()},
            details={
                name: {"code": code, "message": message, "data": None}
                for name, (code, message) in problems.items()
            },
        )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_date(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _raw(value: Any) -> str:
    return str(value.get("raw", "")) if isinstance(value, dict) else str(value or "")


def _relink(links: Any, old: int, new: int) -> Any:
    text = json.dumps(links)
    return json.loads(re.sub(rf"(?<=[/=]){old}(?=\"|/|&)", str(new), text))


class WordPressFake:
    """The blog ``SITE`` with one user, ``USERNAME``, and its Application Password."""

    def __init__(self, clock: FakeClock, *, capabilities: Iterable[str] | None = None) -> None:
        self.clock = clock
        me = recorded("response-200-users-me.json")
        held = (
            capabilities
            if capabilities is not None
            else [k for k, v in me["capabilities"].items() if v]
        )
        self.capabilities = set(held)
        self.password = APPLICATION_PASSWORD
        self.posts: dict[int, dict[str, Any]] = {}
        self.media: dict[int, dict[str, Any]] = {}
        # The uploaded files as the public web serves them (URL -> bytes, type).
        self.files: dict[str, tuple[bytes, str]] = {}
        self.terms: dict[str, dict[int, dict[str, Any]]] = {
            "categories": {1: self._term("categories", 1, "Uncategorized")},
            "tags": {},
        }
        self.next_post_id = 100  # posts and media share wp_posts' ids, as in WordPress
        self.next_term_id = 10
        self.requests: list[dict[str, Any]] = []
        self._fail_next: ErrorClass | None = None
        # WordPress publishes a future post from WP-Cron, which runs on page loads; a blog
        # whose cron does not run "misses" the schedule (the post stays future).
        self.cron_runs = True

    # -- PlatformFake -------------------------------------------------------------------

    def created(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.posts[key]) for key in sorted(self.posts)]

    def fail_next_create(self, error: ErrorClass) -> None:
        self._fail_next = error

    def expire_credentials(self) -> None:
        self.password = "revoked " + self.password  # the application password was revoked

    # -- helpers for tests -----------------------------------------------------------

    def add_term(self, taxonomy: str, name: str) -> int:
        term_id = self._new_term_id()
        self.terms[taxonomy][term_id] = self._term(taxonomy, term_id, name)
        return term_id

    def term_names(self, taxonomy: str, ids: Iterable[int]) -> list[str]:
        return [self.terms[taxonomy][term_id]["name"] for term_id in ids]

    # -- WSGI --------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.args),
                "content_type": request.content_type,
                "authorized": self._authorized(request),
            }
        )
        try:
            response = self._route(request)
        except Refusal as refusal:
            response = refusal.response
        return response(environ, start_response)

    def run_cron(self) -> None:
        """publish_future_post: future posts whose date has come are published."""
        now = self.clock.now()
        for post in self.posts.values():
            if post["status"] == "future" and _parse_date(post["date_gmt"]) <= now:
                post["status"] = "publish"
                post["link"] = post["permalink_template"].replace("%postname%", post["slug"])

    def _route(self, request: Request) -> Response:
        if self.cron_runs:
            self.run_cron()
        path, method = request.path.rstrip("/"), request.method
        match = re.fullmatch(
            r"/wp-json/wp/v2/(posts|media|categories|tags|users/me)(?:/(\d+))?", path
        )
        handler: Callable[[], Response] | None = None
        if match:
            route, item = match.group(1), match.group(2)
            handlers: dict[tuple[str, str | None, str], Callable[[], Response]] = {
                ("users/me", None, "GET"): lambda: self._me(request),
                ("posts", None, "GET"): lambda: self._list_posts(request),
                ("posts", None, "POST"): lambda: self._create_post(request),
                ("posts", "id", "GET"): lambda: self._get_post(int(item)),
                ("posts", "id", "DELETE"): lambda: self._trash_post(int(item)),
                ("posts", "id", "POST"): lambda: self._update_post(request, int(item)),
                ("media", None, "POST"): lambda: self._upload(request),
                ("media", "id", "POST"): lambda: self._update_media(request, int(item)),
                ("categories", None, "GET"): lambda: self._list_terms(request, "categories"),
                ("categories", None, "POST"): lambda: self._create_term(request, "categories"),
                ("tags", None, "GET"): lambda: self._list_terms(request, "tags"),
                ("tags", None, "POST"): lambda: self._create_term(request, "tags"),
            }
            handler = handlers.get((route, "id" if item else None, method))
        if handler is None:
            raise Refusal(
                404, "rest_no_route", "No route was found matching the URL and request method."
            )
        return handler()

    # -- auth ----------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        auth = request.authorization
        return (
            auth is not None
            and auth.type == "basic"
            and auth.username == USERNAME
            # WordPress ignores the spaces it shows in an application password.
            and (auth.password or "").replace(" ", "") == self.password.replace(" ", "")
        )

    def _can(self, request: Request, capability: str) -> bool:
        return self._authorized(request) and capability in self.capabilities

    def _require(self, request: Request, capability: str, code: str, message: str) -> None:
        if not self._can(request, capability):
            raise Refusal(403 if self._authorized(request) else 401, code, message)

    # -- users -------------------------------------------------------------------------

    def _me(self, request: Request) -> Response:
        validate(_route_args("/wp/v2/users/me", "GET"), dict(request.args))
        if not self._authorized(request):
            return _json(recorded("error-401-users-me-wrong-app-password.json"), 401)
        me = recorded("response-200-users-me.json")
        me["capabilities"] = {name: True for name in sorted(self.capabilities)}
        return _json(me)

    # -- posts -------------------------------------------------------------------------

    def _list_posts(self, request: Request) -> Response:
        query = dict(request.args)
        statuses = _as_list(query.get("status", "publish"))
        forbidden = {}
        if any(s != "publish" for s in statuses) and not self._can(request, "edit_posts"):
            # sanitize_post_statuses' error, wrapped by sanitize_params into a 400.
            forbidden["status"] = ("rest_forbidden_status", "Status is forbidden.")
        try:
            validate(_collection_args("posts", "GET"), query, forbidden)
        except Refusal as refusal:
            body = json.loads(refusal.response.get_data())
            if "status" in forbidden:
                body["data"]["details"]["status"]["data"] = {
                    "status": 403 if self._authorized(request) else 401
                }
            return _json(body, 400)
        if query.get("context") == "edit" and not self._can(request, "edit_posts"):
            raise Refusal(
                403 if self._authorized(request) else 401,
                "rest_forbidden_context",
                "Sorry, you are not allowed to edit posts in this post type.",
            )
        slugs = set(_as_list(query["slug"])) if "slug" in query else None
        found = [
            post
            for post in self.created()
            if post["status"] in statuses and (slugs is None or post["slug"] in slugs)
        ]
        per_page = int(query.get("per_page", 10))
        headers = {
            "X-WP-Total": str(len(found)),
            "X-WP-TotalPages": str(max(1, -(-len(found) // per_page))),
        }
        return _json(
            sorted(found, key=lambda p: p["date_gmt"], reverse=True)[:per_page], 200, headers
        )

    def _get_post(self, post_id: int) -> Response:
        if post_id not in self.posts:
            return _json(recorded("error-404-get-post-unknown-id.json"), 404)
        return _json(self.posts[post_id])

    def _trash_post(self, post_id: int) -> Response:
        """WP_REST_Posts_Controller::delete_item without force: to the trash."""
        post = self.posts.get(post_id)
        if post is None:
            return _json(recorded("error-404-get-post-unknown-id.json"), 404)
        if post["status"] == "trash":
            raise Refusal(410, "rest_already_trashed", "The post has already been deleted.")
        post["status"] = "trash"
        return _json(post)

    def _update_post(self, request: Request, post_id: int) -> Response:
        post = self.posts.get(post_id)
        if post is None:
            return _json(recorded("error-404-get-post-unknown-id.json"), 404)
        fields = self._body(request)
        if "date_gmt" in fields:
            date = _parse_date(fields["date_gmt"])
            post["date_gmt"] = post["date"] = _stamp(date)
            # wp_update_post: a future date keeps it future, a past one publishes it.
            if post["status"] in ("future", "publish"):
                post["status"] = (
                    "future" if date - self.clock.now() >= timedelta(seconds=60) else "publish"
                )
        return _json(post)

    def _create_post(self, request: Request) -> Response:
        fields = self._body(request)
        validate(_collection_args("posts", "POST"), fields)
        validate({}, dict(request.args))
        if not self._can(request, "edit_posts"):
            if not self._authorized(request):
                return _json(recorded("error-401-create-post-no-auth.json"), 401)
            raise Refusal(
                403,
                "rest_cannot_create",
                "Sorry, you are not allowed to create posts as this user.",
            )
        failure, self._fail_next = self._fail_next, None
        if failure == "retryable":
            raise ResetBeforeSending("connection refused")
        if failure == "rate_limited":
            return Response(
                "Too Many Requests",
                status=429,
                headers={"Retry-After": "120"},
                content_type="text/html",
            )
        if failure == "auth_expired":
            return _json(recorded("error-401-create-post-wrong-app-password.json"), 401)
        status = fields.get("status", "draft")
        if failure == "permanent" or (
            status in ("publish", "future") and not self._can(request, "publish_posts")
        ):
            raise Refusal(
                403,
                "rest_cannot_publish",
                "Sorry, you are not allowed to publish posts in this post type.",
            )
        for taxonomy in ("categories", "tags"):
            if any(int(t) not in self.terms[taxonomy] for t in fields.get(taxonomy, [])):
                raise Refusal(
                    403,
                    "rest_cannot_assign_term",
                    "Sorry, you are not allowed to assign the provided terms.",
                )
        post = self._insert_post(fields, status)
        featured = int(fields.get("featured_media", 0))
        if featured and featured not in self.media:
            # handle_featured_media runs after wp_insert_post: the post stays.
            raise Refusal(400, "rest_invalid_featured_media", "Invalid featured media ID.")
        post["featured_media"] = featured
        if failure == "ambiguous":
            raise DropConnection("the post was created; the answer is lost")
        return _json(post, 201, {"Location": f"{SITE}/wp-json/wp/v2/posts/{post['id']}"})

    def _insert_post(self, fields: dict[str, Any], status: str) -> dict[str, Any]:
        now = self.clock.now()
        date = _parse_date(fields["date_gmt"]) if fields.get("date_gmt") else now
        # wp_insert_post: "publish" dated a minute or more ahead is stored as "future".
        if status == "publish" and date - now >= timedelta(seconds=60):
            status = "future"
        elif status == "future" and date - now < timedelta(seconds=60):
            status = "publish"
        post_id = self._new_post_id()
        title = _raw(fields.get("title"))
        slug = self._unique_slug(fields.get("slug") or _slugify(title) or str(post_id))
        template = f"{SITE}/{date:%Y/%m/%d}/%postname%/"
        post: dict[str, Any] = copy.deepcopy(recorded("response-201-create-post-publish.json"))
        content, excerpt = _raw(fields.get("content")), _raw(fields.get("excerpt"))
        post.update(
            id=post_id,
            date=_stamp(date),
            date_gmt=_stamp(date),
            modified=_stamp(now),
            modified_gmt=_stamp(now),
            slug=slug,
            status=status,
            generated_slug=slug,
            link=f"{SITE}/?p={post_id}"
            if status == "future"
            else template.replace("%postname%", slug),
            title={"raw": title, "rendered": title},
            content={
                "raw": content,
                "rendered": content + "\n",
                "protected": False,
                "block_version": 0,
            },
            excerpt={"raw": excerpt, "rendered": f"<p>{excerpt}</p>\n", "protected": False},
            featured_media=0,
            # WordPress 6.1 files a post under the default category when `categories` is not
            # sent, and under none when an empty list is sent (checked against a real 6.1).
            categories=[int(c) for c in fields.get("categories", [1])],
            tags=[int(t) for t in fields.get("tags", [])],
            permalink_template=template,
            _links=_relink(post["_links"], 24, post_id),
        )
        post["guid"] = {"rendered": post["link"], "raw": post["link"]}
        self.posts[post_id] = post
        return post

    def _unique_slug(self, slug: str) -> str:
        taken = {post["slug"] for post in self.posts.values()}
        candidate, suffix = slug, 2
        while candidate in taken:
            candidate, suffix = f"{slug}-{suffix}", suffix + 1
        return candidate

    # -- media -------------------------------------------------------------------------

    def _upload(self, request: Request) -> Response:
        validate(_collection_args("media", "POST"), dict(request.args))
        if not self._can(request, "upload_files"):
            raise Refusal(
                403 if self._authorized(request) else 401,
                "rest_cannot_create",
                "Sorry, you are not allowed to upload media on this site.",
            )
        data = request.get_data()
        if not data:
            raise Refusal(400, "rest_upload_no_data", "No data supplied.")
        if not request.headers.get("Content-Type"):
            raise Refusal(400, "rest_upload_no_content_type", "No Content-Type supplied.")
        disposition = request.headers.get("Content-Disposition")
        if not disposition:
            return _json(recorded("error-400-upload-media-no-content-disposition.json"), 400)
        match = re.search(r'(?<![*\w])filename=("?)([^";]+)\1', disposition)
        if not match:
            raise Refusal(
                400,
                "rest_upload_invalid_disposition",
                "Invalid Content-Disposition supplied. Content-Disposition needs to be formatted "
                'as `attachment; filename="image.png"` or similar.',
            )
        filename = match.group(2).strip()
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        known = UPLOAD_TYPES.get(extension)
        if known is None or not data.startswith(known[1]):
            raise Refusal(
                500,
                "rest_upload_sideload_error",
                "Sorry, you are not allowed to upload this file type.",
            )
        media_id = self._new_post_id()
        stem = filename.rsplit(".", 1)[0]
        url = f"{SITE}/wp-content/uploads/{self.clock.now():%Y/%m}/{filename}"
        media = copy.deepcopy(recorded("response-201-upload-media.json"))
        media.update(
            id=media_id,
            date=_stamp(self.clock.now()),
            date_gmt=_stamp(self.clock.now()),
            slug=_slugify(stem),
            title={"raw": stem, "rendered": stem},
            link=f"{SITE}/{_slugify(stem)}/",
            guid={"rendered": url, "raw": url},
            source_url=url,
            mime_type=known[0],
            alt_text="",
            post=None,
            _links=_relink(media["_links"], 23, media_id),
        )
        media["media_details"]["file"] = f"{self.clock.now():%Y/%m}/{filename}"
        media["media_details"]["filesize"] = len(data)
        self.media[media_id] = media
        self.files[url] = (data, known[0])
        return _json(media, 201, {"Location": f"{SITE}/wp-json/wp/v2/media/{media_id}"})

    def _update_media(self, request: Request, media_id: int) -> Response:
        fields = self._body(request)
        validate(_route_args("/wp/v2/media/(?P<id>[\\d]+)", "POST"), fields)
        if media_id not in self.media:
            return _json(recorded("error-404-get-post-unknown-id.json"), 404)
        self._require(
            request,
            "upload_files",
            "rest_cannot_edit",
            "Sorry, you are not allowed to edit this post.",
        )
        media = self.media[media_id]
        if "alt_text" in fields:
            media["alt_text"] = fields["alt_text"]
        if "post" in fields:
            media["post"] = int(fields["post"]) or None
        return _json(media)

    # -- terms -------------------------------------------------------------------------

    def _list_terms(self, request: Request, taxonomy: str) -> Response:
        query = dict(request.args)
        validate(_collection_args(taxonomy, "GET"), query)
        search = query.get("search", "").casefold()
        found = [t for t in self.terms[taxonomy].values() if search in t["name"].casefold()]
        return _json(sorted(found, key=lambda t: t["name"])[: int(query.get("per_page", 10))])

    def _create_term(self, request: Request, taxonomy: str) -> Response:
        fields = self._body(request)
        validate(_collection_args(taxonomy, "POST"), fields)
        # Categories need manage_categories; tags only the right to assign them (edit_posts).
        capability = "manage_categories" if taxonomy == "categories" else "edit_posts"
        self._require(
            request,
            capability,
            "rest_cannot_create",
            "Sorry, you are not allowed to create terms in this taxonomy.",
        )
        name = str(fields["name"]).strip()
        for term in self.terms[taxonomy].values():
            # Names are stored sanitized ("&" as "&amp;") and compared that way.
            if term["name"].casefold() == name.replace("&", "&amp;").casefold():
                body = recorded("error-400-create-tag-exists.json")
                body["data"]["term_id"] = term["id"]
                body["additional_data"] = [term["id"], term["id"]]
                return _json(body, 400)
        term_id = self.add_term(taxonomy, name)
        return _json(self.terms[taxonomy][term_id], 201)

    def _term(self, taxonomy: str, term_id: int, name: str) -> dict[str, Any]:
        kind = "category" if taxonomy == "categories" else "tag"
        term: dict[str, Any] = copy.deepcopy(recorded(f"response-201-create-{kind}.json"))
        old = term["id"]
        slug = _slugify(name)
        term.update(
            id=term_id, name=name.replace("&", "&amp;"), slug=slug, link=f"{SITE}/{kind}/{slug}/"
        )
        term["_links"] = _relink(term["_links"], old, term_id)
        return term

    # -- plumbing ----------------------------------------------------------------------

    def _body(self, request: Request) -> dict[str, Any]:
        if request.mimetype == "application/json":
            try:
                body = json.loads(request.get_data() or b"{}")
            except ValueError:
                raise Refusal(400, "rest_invalid_json", "Invalid JSON body passed.") from None
            return body if isinstance(body, dict) else {}
        return dict(request.form)

    def _new_post_id(self) -> int:
        self.next_post_id += 1
        return self.next_post_id

    def _new_term_id(self) -> int:
        self.next_term_id += 1
        return self.next_term_id


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
