"""YouTube (Data API v3) through google-api-python-client: one video per delivery.

The post's title becomes the video's title, its text and link the description, its tags
the video's tags; an image among its media becomes the thumbnail. A post due in the future
is uploaded ahead (``lead_time``) as private with ``status.publishAt``, so YouTube makes it
public on time however long the upload takes.

Uploads are resumable and safe to repeat: the upload session URI is noted before the first
byte (see :mod:`connectors.youtube_upload`), and ``publish`` and ``find`` both ask a noted
session where it stands and send only what is missing. Quota, limits and errors follow
the README, section YouTube.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, TypeVar

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials as OAuthCredentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import (
    AccountSettings,
    Limits,
    MediaItem,
    Outgoing,
    PositiveDuration,
    Problem,
    Published,
    RenderedText,
    RequestTimeout,
    Verdict,
    check_limits,
    parse_options,
    plain_text,
)
from connectors.credentials import MissingCredential, Secret
from connectors.errors import (
    Ambiguous,
    AuthExpired,
    Permanent,
    PublishError,
    Retryable,
)
from connectors.handover import Confirmation, HandedOver, Liveness
from connectors.http import lost_answer
from connectors.youtube_upload import (
    CHUNK_UNIT,
    SESSION_NOTE,
    VIDEO_NOTE,
    ApiHttp,
    ask_session,
    send_chunks,
    translate,
    transport,
)
from scheduler.clock import Clock, ensure_utc
from scheduler.logs import fields

log = logging.getLogger(__name__)

TITLE_LIMIT = 100  # characters
DESCRIPTION_LIMIT = 5000  # bytes of UTF-8
TAGS_LIMIT = 500  # characters, all tags together
THUMBNAIL_BYTES = 2 * 1024 * 1024
THUMBNAIL_TYPES = frozenset({"image/jpeg", "image/png"})
REAUTHORISE = (
    "re-authorise: in Google Cloud console (APIs & Services > Credentials) use the OAuth "
    "client of this account to obtain a new refresh token with the scope "
    "https://www.googleapis.com/auth/youtube for the channel's Google account (see "
    "the README, section YouTube), put it in the secret 'refresh_token' (environment "
    "variable {env} or file {account}.refresh_token in the credentials directory), delete "
    "any saved copy under the state folder's tokens/{account}/, then run "
    "`relais accounts resume {account}`"
)
# "All videos uploaded via the videos.insert endpoint from unverified API projects created
# after 28 July 2020 will be restricted to private viewing mode. To lift this restriction,
# each API project must undergo an audit" (YouTube Data API reference, videos.insert;
# revision history, 28 July 2020; the audit form is YouTube API Services' own).
PRIVATE_LOCK = (
    "YouTube keeps uploads of this Google Cloud project private: videos uploaded through an "
    "API project that YouTube has not audited are locked private. Request the audit with "
    "the YouTube API Services audit and quota extension form "
    "(https://support.google.com/youtube/contact/yt_api_form) for the project of this "
    "account's OAuth client; once it passes, make the video public in YouTube Studio"
)
PUBLISH_AT_NOTE = "youtube.publish_at"
_Result = TypeVar("_Result")


class YouTubeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base: str = "https://youtube.googleapis.com/"
    token_uri: str = "https://oauth2.googleapis.com/token"
    category_id: str = "27"  # Education
    playlist_id: str | None = None
    privacy: Literal["public", "unlisted", "private"] = "public"
    made_for_kids: bool = False
    notify_subscribers: bool = True
    # relais cancel on a video in YouTube's schedule: make it private (kept, not public) or
    # delete it.
    on_cancel: Literal["private", "delete"] = "private"
    upload_ahead: PositiveDuration = timedelta(hours=12)
    chunk_size: int = Field(default=32 * CHUNK_UNIT, ge=CHUNK_UNIT)
    timeout: RequestTimeout = timedelta(seconds=60)

    @field_validator("chunk_size")
    @classmethod
    def _whole_units(cls, value: int) -> int:
        if value % CHUNK_UNIT:
            raise ValueError(f"must be a multiple of {CHUNK_UNIT} (256 KiB)")
        return value


class YouTubeConnector:
    """One channel. ``platform_id`` is the video id; ``url`` its watch page."""

    kind: ClassVar[str] = "youtube"
    # find() answering None means "never created": the upload session and the delivery's
    # tag tell; an upload the session holds is finished, not started again.
    find_is_authoritative: ClassVar[bool] = True

    def __init__(self, settings: AccountSettings, clock: Clock, *, http: Any = None) -> None:
        self.options = parse_options(YouTubeOptions, settings)
        self.settings = settings
        self.account = settings.name
        self.clock = clock
        self._transport = (
            http if http is not None else transport(self.options.timeout.total_seconds())
        )
        self.limits = Limits(
            max_text_length=DESCRIPTION_LIMIT,
            media_kinds=frozenset({"video", "image"}),
            max_media=2,
            max_media_bytes=256 * 1024**3,
            requires_media=True,
            requires_title=True,
        )
        self.lead_time = self.options.upload_ahead
        self.min_lead_time = timedelta(minutes=15)
        self._credentials: OAuthCredentials | None = None
        self._service: Any = None
        self._http: ApiHttp | None = None

    # -- offline -------------------------------------------------------------------------

    def render(self, outgoing: Outgoing) -> RenderedText:
        """The description: the text, then the link; YouTube counts it in UTF-8 bytes."""
        text = plain_text(outgoing, DESCRIPTION_LIMIT).text
        return RenderedText(
            text=text, length=len(text.encode("utf-8")), limit=DESCRIPTION_LIMIT, counted_as="bytes"
        )

    def check(self, outgoing: Outgoing) -> list[Problem]:
        rendered = self.render(outgoing)
        problems = check_limits(self.limits, outgoing, rendered)
        title = outgoing.title or ""
        if len(title) > TITLE_LIMIT:
            problems.append(
                Problem(
                    field="title",
                    message=f"the title is {len(title)} characters; YouTube takes at most "
                    f"{TITLE_LIMIT}",
                )
            )
        for name, value in (("title", title), ("text", rendered.text)):
            if "<" in value or ">" in value:
                problems.append(
                    Problem(field=name, message=f"YouTube refuses '<' and '>' in the {name}")
                )
        tags = _tags_length(outgoing.tags)
        if tags > TAGS_LIMIT:
            problems.append(
                Problem(
                    field="tags",
                    message=f"the tags take {tags} characters; YouTube takes at most {TAGS_LIMIT}",
                )
            )
        videos = [item for item in outgoing.media if item.mime_type.startswith("video/")]
        images = [item for item in outgoing.media if item.mime_type.startswith("image/")]
        if len(videos) != 1:
            problems.append(Problem(field="media", message="a YouTube post needs one video file"))
        if len(images) > 1:
            problems.append(
                Problem(field="media", message="at most one image, used as the thumbnail")
            )
        for image in images:
            if image.mime_type not in THUMBNAIL_TYPES or image.size > THUMBNAIL_BYTES:
                problems.append(
                    Problem(
                        field="media",
                        message=f"{image.path.name} cannot be a YouTube thumbnail: it must be "
                        "a JPEG or PNG file of at most 2 MB",
                    )
                )
        return problems

    # -- online --------------------------------------------------------------------------

    def verify(self) -> Verdict:
        try:
            answer = self._call(
                lambda api: api.channels().list(part="snippet", mine=True).execute()
            )
        except MissingCredential as error:
            return Verdict(ok=False, message=str(error))
        except PublishError as error:
            return Verdict(ok=False, message=error.message)
        items = answer.get("items") or []
        if not items:
            return Verdict(
                ok=False,
                message="the authorised Google account has no YouTube channel; create one "
                "at youtube.com, then authorise again",
            )
        channel = items[0]
        title = channel.get("snippet", {}).get("title", "")
        message = f"uploads to channel '{title}' (id {channel['id']})"
        try:
            locked = None if self.options.privacy == "private" else self._locked_upload()
        except PublishError as error:
            return Verdict(ok=True, message=f"{message}; could not read its uploads: {error}")
        if locked is not None:
            return Verdict(
                ok=False,
                message=f"{message}, but its newest processed upload ({locked}) is locked "
                f"private with no publication time. {PRIVATE_LOCK}. (If a person made that "
                "video private, ignore this.)",
            )
        return Verdict(ok=True, message=message)

    def _locked_upload(self) -> str | None:
        """The newest processed upload, when it is private with no publication time: how
        YouTube's lock on an unaudited project shows through the API (there is no field
        for the lock itself)."""

        def newest(api: Any) -> Mapping[str, Any] | None:
            channels = api.channels().list(part="contentDetails", mine=True).execute()
            for channel in channels.get("items", []):
                uploads = channel["contentDetails"]["relatedPlaylists"]["uploads"]
                page = (
                    api.playlistItems()
                    .list(part="snippet", playlistId=uploads, maxResults=5)
                    .execute()
                )
                ids = [item["snippet"]["resourceId"]["videoId"] for item in page.get("items", [])]
                if not ids:
                    return None
                videos = api.videos().list(part="status", id=",".join(ids)).execute()
                by_id = {video["id"]: video for video in videos.get("items", [])}
                for video_id in ids:  # newest first
                    video = by_id.get(video_id)
                    if video and video["status"].get("uploadStatus") == "processed":
                        return dict(video)
            return None

        video = self._call(newest)
        if video is None:
            return None
        status = video["status"]
        if status.get("privacyStatus") == "private" and not status.get("publishAt"):
            return str(video["id"])
        return None

    def publish(self, outgoing: Outgoing) -> Published:
        try:
            video = self._uploaded(outgoing, resume_only=False)
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error
        assert video is not None
        return self._handed_over_or_published(outgoing, self._finish(outgoing, video))

    def find(self, outgoing: Outgoing) -> Published | None:
        if outgoing.notes.get(VIDEO_NOTE) is None and outgoing.notes.get(SESSION_NOTE) is None:
            return None  # the session is noted before the first byte: nothing was sent
        # A lost answer while resuming means "ask again later": reconciliation must not
        # give up on an upload that may be half done.
        try:
            video = self._uploaded(outgoing, resume_only=True)
            if video is None:
                return None
            return self._handed_over_or_published(outgoing, self._finish(outgoing, video))
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error
        except Ambiguous as error:
            raise Retryable(error.message) from error

    # -- the upload ----------------------------------------------------------------------

    def _uploaded(self, outgoing: Outgoing, *, resume_only: bool) -> Mapping[str, Any] | None:
        """The video of this delivery: already known, finished from its session, or (unless
        ``resume_only``) uploaded now. None: nothing exists and nothing was started."""
        known = outgoing.notes.get(VIDEO_NOTE)
        if known is not None:
            return {"id": known}
        video_item = next(item for item in outgoing.media if item.mime_type.startswith("video/"))
        for item in outgoing.media:
            if not item.path.is_file():  # checked here, so OSError below means the network
                raise Permanent(f"{item.path} is missing from relais' media store")
        ids = _ids(outgoing)
        body = self._metadata(outgoing)
        publish_at = body["status"].get("publishAt")
        if publish_at is not None and outgoing.notes.get(PUBLISH_AT_NOTE) is None:
            outgoing.notes.put(PUBLISH_AT_NOTE, publish_at)
        started = {"session": False}

        def upload(api: Any) -> Mapping[str, Any] | None:
            media = MediaFileUpload(
                str(video_item.path),
                mimetype=video_item.mime_type,
                chunksize=self.options.chunk_size,
                resumable=True,
            )
            request = api.videos().insert(
                part="snippet,status",
                body=body,
                media_body=media,
                notifySubscribers=self.options.notify_subscribers,
            )
            http = self._api_http()
            session = outgoing.notes.get(SESSION_NOTE)
            if session is not None:
                state = ask_session(http, session, video_item.size)
                started["session"] = True
                if state.video is not None:
                    return state.video
                if state.expired:
                    found = self._listed(api, outgoing)
                    if found is not None or resume_only:
                        return found
                    session = None
                else:
                    request.resumable_uri = session
                    request.resumable_progress = state.received
                    log.info(
                        "resuming video upload",
                        extra=fields(**ids, bytes_received=state.received),
                    )
            if session is None:
                if resume_only:
                    return None

                def noted(uri: str) -> None:
                    outgoing.notes.put(SESSION_NOTE, uri)
                    started["session"] = True

                http = http.recording(noted)
            return send_chunks(request, http, size=video_item.size, ids=ids)

        video = self._call(upload, sent=lambda: started["session"])
        if video is not None:
            outgoing.notes.put(VIDEO_NOTE, str(video["id"]))
            self._warn_if_locked_private(outgoing, video, body)
        return video

    def _handed_over_or_published(self, outgoing: Outgoing, result: Published) -> Published:
        """A video uploaded with ``publishAt`` is in YouTube's schedule, not live."""
        if outgoing.notes.get(PUBLISH_AT_NOTE) is None:
            return result
        return HandedOver(
            platform_id=result.platform_id, url=result.url, live_at=ensure_utc(outgoing.due_at)
        )

    def confirm(self, outgoing: Outgoing, platform_id: str) -> Confirmation:
        """Live: public and processed (``status.uploadStatus``, whose values the discovery
        document google-api-python-client ships lists: uploaded, processed, failed,
        rejected, deleted)."""
        try:
            answer = self._call(
                lambda api: api.videos().list(part="status", id=platform_id).execute()
            )
        except MissingCredential as error:
            raise Retryable(str(error)) from error
        except (Ambiguous, AuthExpired, Permanent) as error:
            raise Retryable(error.message) from error
        items = answer.get("items") or []
        if not items:
            return Confirmation(
                liveness=Liveness.NOT_LIVE,
                reason=f"video {platform_id} is no longer on the channel (deleted in YouTube "
                "Studio?); `relais retry` uploads it again",
            )
        return _liveness(platform_id, items[0].get("status") or {})

    # -- cancel and move on YouTube's own schedule (videos.update status.publishAt, which
    # "can be set only if the privacy status of the video is private"; videos.delete) -----

    def change_problem(self, outgoing: Outgoing, at: datetime | None) -> str | None:
        if at is not None and ensure_utc(at) <= ensure_utc(self.clock.now()) + self.min_lead_time:
            return (
                "YouTube publishes at a time in the future only: move it at least 15 minutes ahead"
            )
        return None

    def withdraw(self, outgoing: Outgoing, platform_id: str) -> None:
        if self.options.on_cancel == "delete":

            def delete(api: Any) -> None:
                try:
                    api.videos().delete(id=platform_id).execute()
                except HttpError as error:
                    if error.resp.status != 404:  # deleted already
                        raise

            self._change(delete)
            return
        self._change(lambda api: self._set_status(api, platform_id, None))

    def reschedule(self, outgoing: Outgoing, platform_id: str, at: datetime) -> None:
        self._change(lambda api: self._set_status(api, platform_id, at))

    def _set_status(self, api: Any, video_id: str, publish_at: datetime | None) -> None:
        status: dict[str, Any] = {
            "privacyStatus": "private",
            "selfDeclaredMadeForKids": self.options.made_for_kids,
        }
        if publish_at is not None:
            status["publishAt"] = ensure_utc(publish_at).strftime("%Y-%m-%dT%H:%M:%SZ")
        api.videos().update(part="status", body={"id": video_id, "status": status}).execute()

    def _change(self, step: Callable[[Any], None]) -> None:
        try:
            self._call(step)
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error
        except Ambiguous as error:  # setting a status twice does no harm
            raise Retryable(error.message) from error

    def _metadata(self, outgoing: Outgoing) -> dict[str, Any]:
        snippet: dict[str, Any] = {
            "title": outgoing.title or "",
            "description": self.render(outgoing).text,
            "categoryId": self.options.category_id,
        }
        if outgoing.tags:
            snippet["tags"] = list(outgoing.tags)
        status: dict[str, Any] = {
            "privacyStatus": self.options.privacy,
            "selfDeclaredMadeForKids": self.options.made_for_kids,
        }
        due = ensure_utc(outgoing.due_at)
        if self.options.privacy == "public" and due > ensure_utc(self.clock.now()):
            # Native scheduling: private now, public at due_at, whatever the upload takes.
            status["privacyStatus"] = "private"
            status["publishAt"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"snippet": snippet, "status": status}

    def _warn_if_locked_private(
        self, outgoing: Outgoing, video: Mapping[str, Any], body: Mapping[str, Any]
    ) -> None:
        wanted = body["status"]["privacyStatus"]
        got = (video.get("status") or {}).get("privacyStatus", wanted)
        if got != wanted:
            log.warning(
                "YouTube made the video %s instead of %s; unaudited API projects can only "
                "upload private videos (request an audit in Google Cloud console)",
                got,
                wanted,
                extra=fields(**_ids(outgoing), video_id=video.get("id")),
            )

    def _listed(self, api: Any, outgoing: Outgoing) -> Mapping[str, Any] | None:
        """This delivery's video among the channel's latest uploads (same title and text)."""
        channels = api.channels().list(part="contentDetails", mine=True).execute()
        for channel in channels.get("items", []):
            uploads = channel["contentDetails"]["relatedPlaylists"]["uploads"]
            page = (
                api.playlistItems()
                .list(part="snippet", playlistId=uploads, maxResults=50)
                .execute()
            )
            description = self.render(outgoing).text
            for item in page.get("items", []):
                snippet = item.get("snippet", {})
                if snippet.get("title") == outgoing.title and (
                    snippet.get("description") == description
                ):
                    return {"id": snippet["resourceId"]["videoId"]}
        return None

    def _finish(self, outgoing: Outgoing, video: Mapping[str, Any]) -> Published:
        """The steps after the upload: thumbnail, playlist. Each is noted when done.

        The video exists by now, so a refusal of these steps is logged, not raised (failing
        the delivery would hide a published video); a transient failure is raised, and the
        next attempt resumes here, without uploading again.
        """
        video_id = str(video["id"])
        ids = {**_ids(outgoing), "video_id": video_id}
        image = next((item for item in outgoing.media if item.mime_type.startswith("image/")), None)
        if image is not None and outgoing.notes.get("thumbnail") is None:
            self._extra(
                outgoing,
                "thumbnail",
                lambda api: _set_thumbnail(api, video_id, image),
                ids,
            )
        playlist = self.options.playlist_id
        if playlist and outgoing.notes.get("playlist_item") is None:
            self._extra(
                outgoing,
                "playlist_item",
                lambda api: (
                    api.playlistItems()
                    .insert(
                        part="snippet",
                        body={
                            "snippet": {
                                "playlistId": playlist,
                                "resourceId": {"kind": "youtube#video", "videoId": video_id},
                            }
                        },
                    )
                    .execute()["id"]
                ),
                ids,
            )
        return Published(platform_id=video_id, url=f"https://www.youtube.com/watch?v={video_id}")

    def _extra(
        self, outgoing: Outgoing, note: str, step: Callable[[Any], Any], ids: Mapping[str, Any]
    ) -> None:
        try:
            result = self._call(step)
        except (Permanent, AuthExpired) as error:
            log.error(
                "video published, but its %s could not be set: %s",
                note.replace("_", " "),
                error.message,
                extra=fields(**ids),
            )
            result = "refused"
        outgoing.notes.put(note, str(result))

    # -- the client and its errors -------------------------------------------------------

    def _api_http(self) -> ApiHttp:
        if self._http is None:
            secrets = self.settings.secrets()
            # google-auth leaves this constructor unannotated.
            self._credentials = OAuthCredentials(  # type: ignore[no-untyped-call]
                token=None,
                refresh_token=secrets.get("refresh_token").reveal(),
                token_uri=self.options.token_uri,
                client_id=secrets.get("client_id").reveal(),
                client_secret=secrets.get("client_secret").reveal(),
            )
            authorised = google_auth_httplib2.AuthorizedHttp(
                self._credentials, http=self._transport, max_refresh_attempts=1
            )
            self._http = ApiHttp(authorised, self.options.api_base)
        return self._http

    def _api(self) -> Any:
        if self._service is None:
            self._service = build(
                "youtube",
                "v3",
                http=self._api_http(),
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": self.options.api_base},
            )
        return self._service

    def _call(self, step: Callable[[Any], _Result], sent: Callable[[], bool] = bool) -> _Result:
        """Run ``step`` with the API; every failure leaves as a ``PublishError``.

        ``sent()`` says whether bytes may have reached YouTube when a connection fails.
        """
        try:
            return step(self._api())
        except HttpError as error:
            raise translate(error, ensure_utc(self.clock.now()), self._auth_message) from error
        except RefreshError as error:
            if getattr(error, "retryable", False):
                raise Retryable(f"Google's token endpoint failed: {error.args[0]}") from error
            raise AuthExpired(self._auth_message(str(error.args[0]))) from error
        except TransportError as error:
            raise Retryable(f"could not reach Google's token endpoint: {error}") from error
        except (OSError, httplib2.HttpLib2Error) as error:  # timeouts, resets, broken answers
            # Until the upload session is noted nothing can have been created; after it,
            # a lost answer is Ambiguous and the next attempt asks the session.
            failure = lost_answer(error, where=f"YouTube account {self.account}", creating=sent())
            if isinstance(failure, Ambiguous):
                raise Ambiguous(
                    f"the connection to YouTube failed during the upload ({type(error).__name__})"
                    "; the upload session is noted and will be asked where it stands"
                ) from error
            raise failure from error
        finally:
            self._keep_rotated_refresh_token()

    def _auth_message(self, what: str) -> str:
        env = "RELAIS_" + "".join(c if c.isalnum() else "_" for c in self.account.upper())
        steps = REAUTHORISE.format(account=self.account, env=f"{env}_REFRESH_TOKEN")
        return f"YouTube account {self.account}: Google refused the credentials ({what}); {steps}"

    def _keep_rotated_refresh_token(self) -> None:
        credentials = self._credentials
        if credentials is None or credentials.refresh_token is None:
            return
        secrets = self.settings.secrets()
        current = secrets.find("refresh_token")
        if current is not None and current.reveal() != credentials.refresh_token:
            secrets.save("refresh_token", Secret(credentials.refresh_token))


def _liveness(video_id: str, status: Mapping[str, Any]) -> Confirmation:
    upload = status.get("uploadStatus")
    if upload == "rejected":
        return Confirmation(
            liveness=Liveness.NOT_LIVE,
            reason=f"YouTube rejected video {video_id} after processing "
            f"({status.get('rejectionReason', 'no reason given')}); see YouTube Studio",
        )
    if upload in ("failed", "deleted"):
        why = status.get("failureReason", upload)
        return Confirmation(
            liveness=Liveness.NOT_LIVE,
            reason=f"YouTube could not process video {video_id} ({why}); check the file, "
            "then `relais retry` uploads it again",
        )
    privacy = status.get("privacyStatus")
    if privacy == "public" and upload == "processed":
        return Confirmation(
            liveness=Liveness.LIVE, url=f"https://www.youtube.com/watch?v={video_id}"
        )
    if privacy == "public" or status.get("publishAt"):
        return Confirmation(
            liveness=Liveness.PENDING,
            reason=f"YouTube has not finished with video {video_id} (upload {upload}, {privacy})",
        )
    if upload == "processed":
        return Confirmation(liveness=Liveness.NOT_LIVE, reason=f"video {video_id}: {PRIVATE_LOCK}")
    return Confirmation(
        liveness=Liveness.PENDING, reason=f"YouTube is still processing video {video_id}"
    )


def _set_thumbnail(api: Any, video_id: str, image: MediaItem) -> str:
    media = MediaFileUpload(str(image.path), mimetype=image.mime_type, resumable=False)
    api.thumbnails().set(videoId=video_id, media_body=media).execute()
    return "set"


def _tags_length(tags: tuple[str, ...]) -> int:
    """YouTube counts the commas between tags, and quotes around a tag with a space."""
    return sum(len(tag) + (2 if " " in tag else 0) for tag in tags) + max(len(tags) - 1, 0)


def _ids(outgoing: Outgoing) -> dict[str, Any]:
    return {
        "delivery_id": outgoing.delivery_id,
        "post_id": outgoing.post_id,
        "account": outgoing.account,
    }
