"""A stateful fake of X API v2 that checks every request against X's OpenAPI spec.

Each request is matched to its operation (method + path template) in
``tests/data/x-api-v2.openapi.json``; its query parameters (required, unknown, typed) and
its body (JSON, or multipart coerced to the schema's types) are validated with jsonschema
over the spec ($refs resolved through a ``referencing`` registry); the Authorization header
must be a valid OAuth 1.0a signature (HMAC-SHA1 over the signed URL) or a bearer token the
fake issued and that is still alive, with the operation's scopes. Answers have the spec's
shapes (checked too), errors are ``application/problem+json`` as X sends them, every answer
carries ``x-rate-limit-*``. ``POST /2/oauth2/token`` (not in the spec) renews tokens and
rotates the refresh token. The hosts are those clients use: api.twitter.com (the old name),
the spec's api.x.com, and loopback for :func:`tests.fakes.wsgi.serve`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from oauthlib.oauth1.rfc5849 import signature, utils  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from twitter_text import extract_urls_with_indices
from werkzeug.wrappers import Request, Response

from tests.fakes.wsgi import DropConnection, ResetBeforeSending
from tests.support import FakeClock

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "x-api-v2.openapi.json"
SPEC_URI = "urn:x-api-v2"
HOSTS = {"api.x.com", "api.twitter.com"}
LOOPBACK = {"127.0.0.1", "localhost"}
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
ALL_SCOPES = frozenset({"tweet.read", "tweet.write", "users.read", "media.write", "offline.access"})
# Per-user limits per 15 minutes (tier-dependent on the real platform).
LIMITS = {"createPosts": 100, "getUsersPosts": 900, "getUsersMe": 75}
WINDOW = timedelta(minutes=15)
PROBLEM = "https://api.x.com/2/problems/"


@dataclass(frozen=True)
class Spec:
    document: dict[str, Any]
    registry: Registry[Any]
    routes: tuple[tuple[str, re.Pattern[str], str, dict[str, Any]], ...]

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        return Draft202012Validator(schema, registry=self.registry)

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            resolved: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                resolved = resolved[part]
            node = resolved
        return node

    def ref(self, node: dict[str, Any]) -> dict[str, Any]:
        """A schema usable on its own: local $refs point into the spec resource."""
        text = json.dumps(node).replace('"#/components/', f'"{SPEC_URI}#/components/')
        loaded: dict[str, Any] = json.loads(text)
        return loaded


@cache
def load_spec() -> Spec:
    document = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    routes = []
    for template, item in document["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")
        for method, operation in item.items():
            routes.append((method.upper(), pattern, template, operation))
    return Spec(document, Registry().with_resource(SPEC_URI, resource), tuple(routes))


@dataclass(frozen=True)
class OAuth1Keys:
    consumer_key: str = "consumer-key-1"
    consumer_secret: str = "consumer-secret-1"
    access_token: str = "1500000000000000001-access-token"
    access_token_secret: str = "access-token-secret-1"


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


def problem(
    status: int, title: str, detail: str, kind: str = "about:blank", **extra: Any
) -> Answer:
    body = {"title": title, "detail": detail, "type": kind, "status": status, **extra}
    return Answer(status, body, content_type="application/problem+json")


def invalid(messages: Iterable[str], parameters: dict[str, Any] | None = None) -> Answer:
    errors = [{"parameters": parameters or {}, "message": message} for message in messages]
    return problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        PROBLEM + "invalid-request",
        errors=errors,
    )


UNAUTHORIZED = ("Unauthorized", "Unauthorized")


class XFake:
    """X for one user; ``oauth1`` keys, and OAuth 2.0 client ``client_id`` (+ secret)."""

    user: ClassVar[dict[str, str]] = {
        "id": "1500000000000000001",
        "name": "Bibliothèques de Genève",
        "username": "bge",
    }

    def __init__(
        self,
        clock: FakeClock,
        *,
        oauth1: OAuth1Keys | None = None,
        client_id: str = "client-id-1",
        client_secret: str | None = None,
        scopes: frozenset[str] = ALL_SCOPES,
        processing_polls: int = 2,
    ) -> None:
        self.clock = clock
        self.oauth1 = oauth1 or OAuth1Keys()
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.processing_polls = processing_polls
        self.tweets: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.access_tokens: dict[str, datetime] = {}
        self.refresh_tokens: set[str] = set()
        self.revoked = False
        self.nonces: set[str] = set()
        self.refreshes = 0
        self._failures: list[str] = []
        self._next: dict[str, list[Answer]] = {}
        self._usage: dict[str, tuple[datetime, int]] = {}
        self._ids = 1_870_000_000_000_000_000

    # -- the contract's PlatformFake ----------------------------------------------------

    def created(self) -> list[dict[str, Any]]:
        return list(self.tweets)

    def fail_next_create(self, error: str) -> None:
        self._failures.append(error)

    def expire_credentials(self) -> None:
        self.revoked = True
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    # -- test helpers ---------------------------------------------------------------------

    def issue_tokens(self) -> tuple[str, str]:
        """A fresh OAuth 2.0 access token (2 h) and refresh token, as after consent."""
        access, refresh = f"at-{secrets.token_hex(8)}", f"rt-{secrets.token_hex(8)}"
        self.access_tokens[access] = self.clock.now() + timedelta(hours=2)
        self.refresh_tokens.add(refresh)
        return access, refresh

    def answer_next(self, operation_id: str, answer: Answer) -> None:
        """The next valid request to ``operation_id`` gets ``answer`` instead."""
        self._next.setdefault(operation_id, []).append(answer)

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def add_tweet(self, text: str, *, created_at: datetime | None = None) -> dict[str, Any]:
        tweet = self._create(text, [])
        tweet["created_at"] = created_at or tweet["created_at"]
        return tweet

    # -- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        url = self._url(environ)
        self.requests.append((request.method, request.path))
        if request.path == "/2/oauth2/token":
            answer = self._token(request)
        else:
            answer = self._api(request, url)
        body = b"" if answer.body is None else json.dumps(answer.body).encode()
        headers = dict(answer.headers)
        response = Response(body, status=answer.status, headers=headers)
        if answer.body is not None:
            response.headers["Content-Type"] = answer.content_type
        return response(environ, start_response)

    def _url(self, environ: dict[str, Any]) -> str:
        """The URL the client used (the in-process adapter keeps it in REQUEST_URI)."""
        raw = environ.get("REQUEST_URI", "")
        if raw.startswith(("http://", "https://")):
            parts = urlsplit(raw)
        else:
            parts = urlsplit(f"{environ['wsgi.url_scheme']}://{environ['HTTP_HOST']}{raw}")
        host = parts.hostname or ""
        assert host in HOSTS or host in LOOPBACK, f"request to {host}, which is not X"
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    # -- /2/oauth2/token --------------------------------------------------------------

    def _token(self, request: Request) -> Answer:
        def refused(error: str, description: str, status: int = 400) -> Answer:
            return Answer(status, {"error": error, "error_description": description})

        if request.method != "POST" or request.mimetype != "application/x-www-form-urlencoded":
            return refused("invalid_request", "Missing required parameter [grant_type].")
        form = request.form
        unknown = set(form) - {"grant_type", "refresh_token", "client_id"}
        if unknown or form.get("grant_type") != "refresh_token":
            return refused("invalid_request", f"Unsupported parameters {sorted(unknown)}.")
        if form.get("client_id") != self.client_id:
            return refused("invalid_client", "Missing valid client_id.", 401)
        if self.client_secret is not None:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
            if request.headers.get("Authorization") != f"Basic {expected.decode()}":
                return refused("unauthorized_client", "Missing valid authorization header", 401)
        elif "Authorization" in request.headers:
            return refused("invalid_request", "Public clients send no Authorization header.")
        token = form.get("refresh_token", "")
        if token not in self.refresh_tokens:
            return refused("invalid_request", "Value passed for the token was invalid.")
        self.refresh_tokens.discard(token)
        access, refresh = self.issue_tokens()
        self.refreshes += 1
        scope = " ".join(sorted(self.scopes))
        body = {"token_type": "bearer", "expires_in": 7200, "access_token": access,
                "scope": scope, "refresh_token": refresh}  # fmt: skip
        return Answer(200, body)

    # -- the API ------------------------------------------------------------------------

    def _api(self, request: Request, url: str) -> Answer:
        spec = load_spec()
        found = [
            (operation, matched.groupdict())
            for method, pattern, _template, operation in spec.routes
            if method == request.method and (matched := pattern.match(request.path))
        ]
        if not found:
            return Answer(404, {"errors": [{"message": "Sorry, that page does not exist",
                                            "code": 34}]})  # fmt: skip
        # A literal path wins over a template (/2/media/upload over /2/media/{media_key}).
        operation, path_values = min(found, key=lambda match: len(match[1]))
        denied = self._authenticate(request, url, operation)
        if denied is not None:
            return denied
        params, problems = self._parameters(request, operation, path_values)
        body, body_problems = self._body(request, operation)
        if problems or body_problems:
            return invalid(problems + body_problems)
        operation_id = operation["operationId"]
        limit, remaining, reset = self._count(operation_id)
        rate = {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(max(remaining, 0)),
                "x-rate-limit-reset": str(int(reset.timestamp()))}  # fmt: skip
        if remaining < 0:
            answer = problem(429, "Too Many Requests", "Too Many Requests")
        elif self._next.get(operation_id):
            answer = self._next[operation_id].pop(0)
        else:
            handler = getattr(self, f"_op_{operation_id}", None)
            if handler is None:
                raise NotImplementedError(f"the X fake does not implement {operation_id}")
            answer = handler(params, body)
        if answer.status == 429:
            rate["x-rate-limit-remaining"] = "0"
        for name, value in rate.items():
            answer.headers.setdefault(name, value)
        if answer.status < 300 and answer.body is not None:
            schema = operation["responses"][str(answer.status)]["content"]["application/json"]
            errors = list(spec.validator(spec.ref(schema["schema"])).iter_errors(answer.body))
            assert not errors, f"the fake's own answer breaks the spec: {errors[0].message}"
        return answer

    def _authenticate(self, request: Request, url: str, operation: dict[str, Any]) -> Answer | None:
        header = request.headers.get("Authorization", "")
        schemes = {
            name: scopes for entry in operation["security"] for name, scopes in entry.items()
        }
        if header.startswith("OAuth ") and "UserToken" in schemes:
            if self.revoked or not self._signed(request, url, header):
                return problem(401, *UNAUTHORIZED)
            return None
        if header.startswith("Bearer ") and "OAuth2UserToken" in schemes:
            expires = self.access_tokens.get(header.removeprefix("Bearer "))
            if expires is None or expires <= self.clock.now():
                return problem(401, *UNAUTHORIZED)
            missing = set(schemes["OAuth2UserToken"]) - self.scopes
            if missing:
                return problem(403, "Forbidden", f"Missing required scopes: {sorted(missing)}.",
                               PROBLEM + "client-forbidden", reason="missing-scopes")  # fmt: skip
            return None
        return problem(401, *UNAUTHORIZED)

    def _signed(self, request: Request, url: str, header: str) -> bool:
        """HMAC-SHA1 over the URL the client signed (a client may sign for api.twitter.com,
        X's old host name, so both X hosts are accepted as well as the one reached)."""
        oauth = {
            key: utils.unescape(value) for key, value in utils.parse_authorization_header(header)
        }
        if (
            oauth.get("oauth_consumer_key") != self.oauth1.consumer_key
            or oauth.get("oauth_token") != self.oauth1.access_token
            or oauth.get("oauth_signature_method") != "HMAC-SHA1"
            or not oauth.get("oauth_nonce")
            or oauth["oauth_nonce"] in self.nonces
        ):
            return False
        form = request.get_data() if request.mimetype.endswith("x-www-form-urlencoded") else None
        params = signature.collect_parameters(
            uri_query=request.query_string.decode(), body=form, headers={"Authorization": header}
        )
        normalized = signature.normalize_parameters(params)
        path = urlsplit(url).path
        candidates = {url} | {f"https://{host}{path}" for host in HOSTS}
        for candidate in candidates:
            base = signature.signature_base_string(
                request.method, signature.base_string_uri(candidate), normalized
            )
            key = f"{utils.escape(self.oauth1.consumer_secret)}&"
            key += utils.escape(self.oauth1.access_token_secret)
            digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
            expected = base64.b64encode(digest).decode()
            if hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
                self.nonces.add(oauth["oauth_nonce"])
                return True
        return False

    def _parameters(
        self, request: Request, operation: dict[str, Any], path_values: dict[str, str]
    ) -> tuple[dict[str, Any], list[str]]:
        spec = load_spec()
        declared = [spec.resolve(p) for p in operation.get("parameters", ())]
        problems: list[str] = []
        query = {p["name"]: p for p in declared if p["in"] == "query"}
        for name in request.args:
            if name not in query:
                problems.append(f"The query parameter [{name}] is not one of [{','.join(query)}]")
        values: dict[str, Any] = {}
        for parameter in declared:
            name, where = parameter["name"], parameter["in"]
            raw = path_values.get(name) if where == "path" else request.args.get(name)
            if raw is None:
                if parameter.get("required"):
                    problems.append(f"The `{name}` query parameter can not be empty")
                continue
            value = _coerce(raw, spec.resolve(parameter["schema"]))
            schema = spec.ref(parameter["schema"])
            problems += [f"The `{name}` parameter: {e.message}"
                         for e in spec.validator(schema).iter_errors(value)]  # fmt: skip
            if spec.resolve(parameter["schema"]).get("format") == "date-time":
                try:
                    datetime.fromisoformat(str(value).replace("Z", "+00:00"))
                except ValueError:
                    problems.append(f"Invalid date-time [{value}] for `{name}`")
            values[name] = value
        return values, problems

    def _body(self, request: Request, operation: dict[str, Any]) -> tuple[Any, list[str]]:
        spec = load_spec()
        declared = operation.get("requestBody")
        if declared is None:
            return None, []
        content = declared["content"]
        if request.mimetype not in content:
            if request.mimetype == "" and not request.get_data():
                return None, (["A request body is required"] if declared.get("required") else [])
            return None, [f"Requests with bodies must have content-type of {' or '.join(content)}."]
        schema = content[request.mimetype]["schema"]
        if request.mimetype == "application/json":
            try:
                body = json.loads(request.get_data() or b"null")
            except ValueError:
                return None, ["The request body is not valid JSON."]
        else:
            properties = spec.resolve(schema).get("properties", {})
            form = {
                key: _coerce(value, spec.resolve(properties.get(key, {})))
                for key, value in request.form.items()
            }
            files = {key: upload.read() for key, upload in request.files.items()}
            shown = form | {key: f"<{len(data)} bytes>" for key, data in files.items()}
            errors = spec.validator(spec.ref(schema)).iter_errors(shown)
            return form | {"_files": files}, [f"${e.json_path[1:]}: {e.message}" for e in errors]
        errors = spec.validator(spec.ref(schema)).iter_errors(body)
        return body, [f"${e.json_path[1:]}: {e.message}" for e in errors]

    def _count(self, operation_id: str) -> tuple[int, int, datetime]:
        now = self.clock.now()
        limit = LIMITS.get(operation_id, 500)
        start, used = self._usage.get(operation_id, (now, 0))
        if now >= start + WINDOW:
            start, used = now, 0
        self._usage[operation_id] = (start, used + 1)
        return limit, limit - used - 1, start + WINDOW

    # -- operations -----------------------------------------------------------------

    def _op_createPosts(self, params: dict[str, Any], body: dict[str, Any]) -> Answer:
        if self._failures:
            answer = self._failure(self._failures.pop(0), body)
            if answer is not None:
                return answer
        text = body.get("text", "")
        media_ids = (body.get("media") or {}).get("media_ids", [])
        for media_id in media_ids:
            media = self.media.get(media_id)
            if media is None or media["state"] != "succeeded":
                return invalid(["Your media IDs are invalid."], {"media.media_ids": media_ids})
        kinds = [self.media[m]["category"] for m in media_ids]
        if len(kinds) > 1 and any(k != "tweet_image" for k in kinds):
            return invalid(["Your media IDs are invalid."], {"media.media_ids": media_ids})
        if not text and not media_ids:
            return invalid(["Post text or media is required."])
        if any(tweet["text"] == text for tweet in self.tweets):
            return problem(403, "Forbidden", DUPLICATE)
        tweet = self._create(text, media_ids)
        return Answer(201, {"data": {"id": tweet["id"], "text": _shown(tweet),
                                     "edit_history_post_ids": [tweet["id"]]}})  # fmt: skip

    def _failure(self, error: str, body: dict[str, Any]) -> Answer | None:
        if error == "retryable":
            raise ResetBeforeSending("connection refused")
        if error == "ambiguous":
            self._create(body.get("text", ""), (body.get("media") or {}).get("media_ids", []))
            raise DropConnection("the post was created; the answer is lost")
        if error == "rate_limited":
            return problem(429, "Too Many Requests", "Too Many Requests")
        if error == "auth_expired":
            self.expire_credentials()
            return problem(401, *UNAUTHORIZED)
        if error == "permanent":
            return problem(403, "Forbidden", "You are not permitted to perform this action.")
        if error == "server_error":
            return problem(503, "Service Unavailable", "Service Unavailable")
        raise ValueError(error)

    def _create(self, text: str, media_ids: list[str]) -> dict[str, Any]:
        tweet = {"id": self._next_id(), "text": text, "media": list(media_ids),
                 "created_at": self.clock.now()}  # fmt: skip
        self.tweets.append(tweet)
        return tweet

    def _op_getUsersMe(self, params: dict[str, Any], body: Any) -> Answer:
        return Answer(200, {"data": dict(self.user)})

    def _op_getUsersPosts(self, params: dict[str, Any], body: Any) -> Answer:
        if params["id"] != self.user["id"]:
            return Answer(200, {"meta": {"result_count": 0}})
        tweets = sorted(self.tweets, key=lambda t: int(t["id"]), reverse=True)
        if "start_time" in params:
            start = datetime.fromisoformat(params["start_time"].replace("Z", "+00:00"))
            tweets = [t for t in tweets if t["created_at"] >= start]
        if "end_time" in params:
            end = datetime.fromisoformat(params["end_time"].replace("Z", "+00:00"))
            tweets = [t for t in tweets if t["created_at"] < end]
        offset = int(params.get("pagination_token", "0") or 0)
        size = params.get("max_results", 10)
        page = tweets[offset : offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta |= {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        if offset + size < len(tweets):
            meta["next_token"] = str(offset + size)
        data = [{"id": t["id"], "text": _shown(t), "edit_history_post_ids": [t["id"]]}
                for t in page]  # fmt: skip
        return Answer(200, {"data": data, "meta": meta} if data else {"meta": meta})

    def _op_mediaUpload(self, params: dict[str, Any], body: dict[str, Any]) -> Answer:
        data = body["_files"].get("media", b"")
        kind = _sniff(data)
        if not body["media_category"].endswith(("_image", "_gif")) or kind is None:
            return invalid([f"media type unrecognized for {body['media_category']}"])
        media = self._new_media(body["media_category"], len(data))
        media["state"] = "succeeded"
        image = {"image_type": kind}
        return Answer(200, {"data": {"id": media["id"], "media_key": media["key"],
                                     "size": len(data), "expires_after_secs": 86400,
                                     "image": image}})  # fmt: skip

    def _op_initializeMediaUpload(self, params: dict[str, Any], body: dict[str, Any]) -> Answer:
        missing = [key for key in ("media_type", "total_bytes") if key not in body]
        if missing:
            return invalid([f"Missing required field(s): {', '.join(missing)}"])
        category = body.get("media_category", "tweet_image")
        media = self._new_media(category, body["total_bytes"])
        media |= {"media_type": body["media_type"], "chunks": {}}
        return Answer(200, {"data": {"id": media["id"], "media_key": media["key"],
                                     "expires_after_secs": 86400}})  # fmt: skip

    def _op_appendMediaUpload(self, params: dict[str, Any], body: dict[str, Any]) -> Answer:
        media = self.media.get(params["id"])
        if media is None or "chunks" not in media or media["state"] != "uploading":
            return invalid([f"Invalid media id {params['id']}"])
        media["chunks"][body["segment_index"]] = body["_files"].get("media", b"")
        expires = int((self.clock.now() + timedelta(days=1)).timestamp())
        return Answer(200, {"data": {"expires_at": expires}})

    def _op_finalizeMediaUpload(self, params: dict[str, Any], body: Any) -> Answer:
        media = self.media.get(params["id"])
        if media is None or media["state"] != "uploading":
            return invalid([f"Invalid media id {params['id']}"])
        chunks = media.pop("chunks")
        data = b"".join(chunks[index] for index in sorted(chunks))
        if sorted(chunks) != list(range(len(chunks))) or len(data) != media["size"]:
            return invalid(["File size mismatch or missing segment."])
        if media["media_type"].startswith("video/") and data[4:8] != b"ftyp":
            return invalid(["InvalidContent: the media is not a video."])
        media["state"] = "pending"
        media["polls"] = self.processing_polls
        return Answer(
            200,
            {"data": self._media_view(media) | {"size": len(data), "expires_after_secs": 86400}},
        )

    def _op_getMediaUploadStatus(self, params: dict[str, Any], body: Any) -> Answer:
        media = self.media.get(params["media_id"])
        if media is None:
            return problem(404, "Not Found Error", "Could not find media",
                           PROBLEM + "resource-not-found", resource_type="media")  # fmt: skip
        if media["state"] in ("pending", "in_progress"):
            media["polls"] -= 1
            media["state"] = "succeeded" if media["polls"] <= 0 else "in_progress"
        return Answer(200, {"data": self._media_view(media)})

    def _op_createMediaMetadata(self, params: dict[str, Any], body: dict[str, Any]) -> Answer:
        media = self.media.get(body["id"])
        if media is None:
            return invalid([f"Invalid media id {body['id']}"])
        media["metadata"] = body.get("metadata", {})
        return Answer(200, {"data": {"id": body["id"], "associated_metadata": media["metadata"]}})

    def _new_media(self, category: str, size: int) -> dict[str, Any]:
        media_id = str(1_880_000_000_000_000_000 + len(self.media))
        media = {"id": media_id, "key": f"7_{media_id}", "category": category, "size": size,
                 "state": "uploading", "metadata": {}}  # fmt: skip
        self.media[media_id] = media
        return media

    def _media_view(self, media: dict[str, Any]) -> dict[str, Any]:
        view: dict[str, Any] = {"id": media["id"], "media_key": media["key"]}
        if media["category"] != "tweet_image":
            info: dict[str, Any] = {"state": media["state"]}
            if media["state"] in ("pending", "in_progress"):
                info |= {"check_after_secs": 2, "progress_percent": 50}
            view["processing_info"] = info
        return view

    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    """A query or form value as the schema's type (what X's server parses)."""
    kind = schema.get("type")
    if kind == "array":
        return [_coerce(part, schema.get("items", {})) for part in raw.split(",")]
    if kind == "integer":
        return int(raw) if re.fullmatch(r"-?\d+", raw) else raw
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    return raw


def _shown(tweet: dict[str, Any]) -> str:
    """The text as X gives it back: URLs as t.co links, & < > escaped, a media link."""
    text: str = tweet["text"]
    for found in reversed(extract_urls_with_indices(text)):
        start, end = found["indices"]
        text = text[:start] + f"https://t.co/{secrets.token_hex(5)}" + text[end:]
    text = html.escape(text, quote=False)
    if tweet["media"]:
        text += f" https://t.co/{secrets.token_hex(5)}"
    return text


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
