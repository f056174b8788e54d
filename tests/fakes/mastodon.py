"""A stateful fake of a Mastodon 4.x server's REST API, as a WSGI app.

It keeps statuses, scheduled statuses, media and idempotency keys, and answers as the
server does (docs.joinmastodon.org: methods/statuses, methods/media,
methods/scheduled_statuses, methods/instance, api/rate-limits; the validators in
mastodon/mastodon's ``app/validators``):

- ``POST /api/v1/statuses`` refuses with 422 and the server's sentence a text over the
  instance's limit (grapheme clusters of content warning + text, URLs as 23, mentions
  as their local part), more than 4 media, media still processing, an unknown
  visibility, a ``scheduled_at`` less than 5 minutes ahead; the same ``Idempotency-Key``
  from the same token within an hour returns the first status instead of a new one;
- ``POST /api/v2/media`` answers 200 for images and 202 (``url: null``) for videos,
  which are processed after ``GET /api/v1/media/:id`` was asked once (206 meanwhile);
- a revoked token gets 401 ``{"error": "The access token is invalid"}`` everywhere;
- a rate limit answers 429 with ``X-RateLimit-Reset`` as an ISO 8601 timestamp.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from typing import Any

import regex
from twitter_text import extract_urls_with_indices
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tests.connectors.contract import ErrorClass
from tests.fakes.wsgi import DropConnection, ResetBeforeSending
from tests.support import FakeClock

INSTANCE = "https://mastodon.example.org"
TOKEN = "mastodon-access-token-0123456789"
ACCOUNT_ID = "109000000000000001"
MAX_CHARACTERS = 500
IDEMPOTENCY_WINDOW = timedelta(hours=1)
VISIBILITIES = frozenset({"public", "unlisted", "private", "direct"})
MENTION = regex.compile(r"(?<![\w/])@(\w+)@[\w.-]+\w")

ROUTES = Map(
    [
        Rule("/api/v1/accounts/verify_credentials", endpoint="me", methods=["GET"]),
        Rule("/api/v2/instance", endpoint="instance", methods=["GET"]),
        Rule("/api/v1/accounts/<account_id>/statuses", endpoint="statuses", methods=["GET"]),
        Rule("/api/v1/statuses", endpoint="post_status", methods=["POST"]),
        Rule("/api/v1/statuses/<status_id>/source", endpoint="source", methods=["GET"]),
        Rule("/api/v2/media", endpoint="upload", methods=["POST"]),
        Rule("/api/v1/media/<media_id>", endpoint="media", methods=["GET"]),
        Rule("/api/v1/scheduled_statuses", endpoint="scheduled", methods=["GET"]),
        Rule(
            "/api/v1/scheduled_statuses/<scheduled_id>",
            endpoint="scheduled_item",
            methods=["PUT", "DELETE"],
        ),
    ]
)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": message}, status, headers)


def counted_length(text: str, spoiler: str) -> int:
    pieces: list[str] = []
    position = 0
    for found in extract_urls_with_indices(text):
        if not str(found["url"]).startswith(("http://", "https://")):
            continue
        start, end = found["indices"]
        pieces += [text[position:start], "x" * 23]
        position = end
    pieces.append(text[position:])
    countable = MENTION.sub(lambda match: "@" + match.group(1), "".join(pieces))
    return len(regex.findall(r"\X", spoiler + countable))


class MastodonFake:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.token = TOKEN
        self.max_characters = MAX_CHARACTERS
        self.statuses: dict[str, dict[str, Any]] = {}
        self.scheduled: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[datetime, str]] = {}
        self.requests: list[dict[str, Any]] = []
        self._next_id = 110_000_000_000_000_000
        self._fail_next: ErrorClass | None = None

    # -- the contract suite's interface ------------------------------------------------

    def created(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.statuses[key]) for key in sorted(self.statuses)]

    def fail_next_create(self, error: ErrorClass) -> None:
        self._fail_next = error

    def expire_credentials(self) -> None:
        self.token = "revoked"

    def run_scheduled(self) -> None:
        """What the server's scheduler does: due scheduled statuses become statuses."""
        now = self.clock.now()
        for scheduled_id, item in list(self.scheduled.items()):
            if datetime.fromisoformat(item["scheduled_at"]) <= now:
                del self.scheduled[scheduled_id]
                status_id = self._new_id()
                self.statuses[status_id] = {
                    "id": status_id,
                    "text": item["params"]["text"],
                    "spoiler": "",
                    "visibility": item["params"]["visibility"] or "public",
                    "language": None,
                    "media": [],
                    "created_at": now.isoformat(),
                }

    # -- WSGI ------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(
            {"method": request.method, "path": request.path, "form": request.form.to_dict(False)}
        )
        adapter = ROUTES.bind("mastodon.example.org")
        try:
            endpoint, values = adapter.match(request.path, method=request.method)
        except Exception:
            return _error(404, "Record not found")(environ, start_response)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "The access token is invalid")(environ, start_response)
        response = getattr(self, "_" + endpoint)(request, **values)
        return response(environ, start_response)

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _me(self, request: Request) -> Response:
        return _json({"id": ACCOUNT_ID, "username": "bibliotheques", "acct": "bibliotheques"})

    def _instance(self, request: Request) -> Response:
        return _json(
            {
                "domain": "mastodon.example.org",
                "configuration": {
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": 4,
                        "characters_reserved_per_url": 23,
                    },
                    "media_attachments": {
                        "supported_mime_types": ["image/jpeg", "image/png", "video/mp4"],
                        "image_size_limit": 16_777_216,
                        "video_size_limit": 103_809_024,
                    },
                },
            }
        )

    def _statuses(self, request: Request, account_id: str) -> Response:
        limit = min(int(request.args.get("limit", "20")), 40)
        newest_first = sorted(self.statuses.values(), key=lambda s: s["id"], reverse=True)
        return _json([_public(status) for status in newest_first[:limit]])

    def _source(self, request: Request, status_id: str) -> Response:
        status = self.statuses.get(status_id)
        if status is None:
            return _error(404, "Record not found")
        return _json({"id": status_id, "text": status["text"], "spoiler_text": status["spoiler"]})

    def _upload(self, request: Request) -> Response:
        file = request.files.get("file")
        if file is None:
            return _error(422, "Validation failed: File can't be blank")
        media_id = self._new_id()
        video = (file.mimetype or "").startswith("video/")
        self.media[media_id] = {
            "id": media_id,
            "type": "video" if video else "image",
            "description": request.form.get("description"),
            "processed": not video,
            "asked": False,
        }
        return _json(_media(self.media[media_id]), 202 if video else 200)

    def _media(self, request: Request, media_id: str) -> Response:
        media = self.media.get(media_id)
        if media is None:
            return _error(404, "Record not found")
        if not media["processed"]:
            media["processed"] = media["asked"]
            media["asked"] = True
            if not media["processed"]:
                return _json(_media(media), 206)
        return _json(_media(media))

    def _post_status(self, request: Request) -> Response:
        form = request.form
        key = request.headers.get("Idempotency-Key")
        now = self.clock.now()
        if key:
            remembered = self.idempotency.get(f"{self.token}:{key}")
            if remembered is not None and now - remembered[0] < IDEMPOTENCY_WINDOW:
                known = self.statuses.get(remembered[1]) or self.scheduled.get(remembered[1])
                if known is not None:
                    return _json(_public(known) if "text" in known else known)
        failure, self._fail_next = self._fail_next, None
        if failure == "retryable":
            raise ResetBeforeSending("connection refused")
        if failure == "rate_limited":
            reset = (now + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
            return _error(429, "Too many requests", {"X-RateLimit-Reset": reset})
        if failure == "auth_expired":
            return _error(401, "The access token is invalid")
        text = form.get("status", "")
        spoiler = form.get("spoiler_text", "")
        media_ids = form.getlist("media_ids[]")
        problem = self._problem(text, spoiler, media_ids, form)
        if failure == "permanent":
            problem = "Validation failed: Text character limit of 500 exceeded"
        if problem:
            return _error(422, problem)
        scheduled_at = form.get("scheduled_at")
        if scheduled_at:
            moment = datetime.fromisoformat(scheduled_at.replace("Z", "+00:00"))
            if moment - now < timedelta(minutes=5):
                return _error(
                    422, "Validation failed: Scheduled at The scheduled date must be in the future"
                )
            item = {
                "id": self._new_id(),
                "scheduled_at": moment.isoformat(),
                "params": {"text": text, "visibility": form.get("visibility")},
                "media_attachments": [_media(self.media[m]) for m in media_ids],
            }
            self.scheduled[item["id"]] = item
            created: dict[str, Any] = item
        else:
            status_id = self._new_id()
            created = {
                "id": status_id,
                "text": text,
                "spoiler": spoiler,
                "visibility": form.get("visibility", "public"),
                "language": form.get("language"),
                "media": [self.media[m] for m in media_ids],
                "created_at": now.isoformat(),
            }
            self.statuses[status_id] = created
        if key:
            self.idempotency[f"{self.token}:{key}"] = (now, str(created["id"]))
        if failure == "ambiguous":
            raise DropConnection("the status was created; the answer is lost")
        return _json(_public(created) if "text" in created else created)

    def _problem(self, text: str, spoiler: str, media_ids: list[str], form: Any) -> str | None:
        if not text.strip() and not media_ids:
            return "Validation failed: Text can't be blank"
        if counted_length(text, spoiler) > self.max_characters:
            return f"Validation failed: Text character limit of {self.max_characters} exceeded"
        if len(media_ids) > 4:
            return "Validation failed: Media attachments Too many media"
        for media_id in media_ids:
            media = self.media.get(media_id)
            if media is None:
                return "Validation failed: Media attachments are invalid"
            if not media["processed"]:
                return (
                    "Cannot attach files that have not finished processing. Try again in a moment!"
                )
        if form.get("visibility", "public") not in VISIBILITIES:
            return "Validation failed: Visibility is not included in the list"
        return None

    def _scheduled(self, request: Request) -> Response:
        return _json(list(self.scheduled.values()))

    def _scheduled_item(self, request: Request, scheduled_id: str) -> Response:
        item = self.scheduled.get(scheduled_id)
        if item is None:
            return _error(404, "Record not found")
        if request.method == "DELETE":
            del self.scheduled[scheduled_id]
            return _json({})
        moment = datetime.fromisoformat(request.form["scheduled_at"].replace("Z", "+00:00"))
        if moment - self.clock.now() < timedelta(minutes=5):
            return _error(
                422, "Validation failed: Scheduled at The scheduled date must be in the future"
            )
        item["scheduled_at"] = moment.isoformat()
        return _json(item)


def _media(media: dict[str, Any]) -> dict[str, Any]:
    url = f"{INSTANCE}/media/{media['id']}" if media["processed"] else None
    return {
        "id": media["id"],
        "type": media["type"],
        "url": url,
        "description": media["description"],
    }


def _public(status: dict[str, Any]) -> dict[str, Any]:
    """A status as the API shows it: HTML content, never the source text."""
    return {
        "id": status["id"],
        "created_at": status["created_at"],
        "url": f"{INSTANCE}/@bibliotheques/{status['id']}",
        "content": "<p>" + status["text"].replace("\n", "<br />") + "</p>",
        "spoiler_text": status["spoiler"],
        "visibility": status["visibility"],
        "language": status["language"],
        "media_attachments": [_media(media) for media in status["media"]],
    }
