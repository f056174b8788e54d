"""The shape of a post file: pydantic models, their JSON Schema, and plain error sentences.

These models check keys and types only; what needs the configuration, the clock or the
disk (libraries, accounts, times, media) is checked by :mod:`scheduler.intake.post_file`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema, SkipJsonSchema
from pydantic_core import ErrorDetails

from scheduler.intake.safe_yaml import Loc

SCHEMA_ID = "urn:relais:schema:post-file"
ID_PATTERN = r"^[a-z0-9][a-z0-9._/-]{0,199}$"
SERIES_PATTERN = r"^[a-z0-9-]+$"
LINK_PATTERN = r"^https?://\S+$"
TIME_HELP = (
    "Local time in the configured time zone, such as 2026-12-11 16:00, optionally with an "
    "offset (2026-10-25 02:30+02:00); or now, today 16:00, tomorrow 10:00, in 2 hours."
)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty")
    return value


def _web_address(value: str) -> str:
    if not urlsplit(value).hostname:
        raise ValueError("is not a web address such as https://www.example.org/agenda")
    return value


Text = Annotated[str, AfterValidator(_not_blank)]
Link = Annotated[str, Field(pattern=LINK_PATTERN), AfterValidator(_web_address)]


class _Shape(BaseModel):
    # strict: YAML already produced typed values, and 1 must not quietly become True.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class MediaModel(_Shape):
    """An image or video to attach."""

    model_config = ConfigDict(title="media file")

    file: str = Field(
        min_length=1,
        description="Path relative to the post file's folder; it must stay inside the inbox. "
        "jpg, png, gif, webp, mp4, mov or m4v.",
    )
    alt: str | None = Field(
        default=None, description="Description of the image for people who cannot see it."
    )


class WindowModel(_Shape):
    """A time range in which relais picks the moment, following the house rules."""

    model_config = ConfigDict(title="window")

    start: str = Field(
        alias="from",
        description="Earliest time. A bare date (2026-12-10) means the start of that day. "
        + TIME_HELP,
    )
    until: str = Field(
        description="Latest time. A bare date (2026-12-12) means the end of that day. " + TIME_HELP,
    )


class VariantModel(_Shape):
    """Overrides for one account; keys not given keep the post's value."""

    model_config = ConfigDict(title="variant")

    title: str | None = Field(default=None, description="Title for this account.")
    # null is accepted here only to be reported by _Checker with a clearer message.
    text: Text | SkipJsonSchema[None] = Field(default=None, description="Text for this account.")
    link: Link | None = Field(default=None, description="Link for this account.")
    media: list[MediaModel] | None = Field(default=None, description="Media for this account.")
    tags: list[str] | None = Field(default=None, description="Tags for this account.")
    at: str | SkipJsonSchema[None] = Field(
        default=None, description="Time for this account. " + TIME_HELP
    )


class PostModel(_Shape):
    """A post for relais: what to publish, where, and when."""

    model_config = ConfigDict(
        title="post file",
        json_schema_extra={
            "not": {
                "anyOf": [
                    {"required": ["at", "window"]},
                    {"required": ["at", "series"]},
                    {"required": ["window", "series"]},
                ]
            }
        },
    )

    id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="Stable identifier; re-dropping a file with the same id updates the post. "
        "Defaults to the file's path in the inbox.",
    )
    library: str = Field(description="The library posting, as declared in config.yaml.")
    author: Text = Field(
        description="Who wrote the post: a person's name from `relais users list`, who is "
        "told when the post is published, fails or is rejected."
    )
    title: str | None = Field(default=None, description="Title, used where a platform wants one.")
    text: Text = Field(description="The text to publish.")
    link: Link | None = Field(default=None, description="A web page to link to (http or https).")
    media: list[MediaModel] = Field(default_factory=list, description="Images or videos.")
    tags: list[str] = Field(default_factory=list, description="Tags or hashtags, without #.")
    to: list[str] = Field(
        min_length=1,
        json_schema_extra={"uniqueItems": True},
        description="Accounts to publish on, as named in config.yaml.",
    )
    at: str | None = Field(default=None, description="When to publish. " + TIME_HELP)
    window: WindowModel | None = Field(
        default=None, description="Instead of at: publish at a free slot in this range."
    )
    series: str | None = Field(
        default=None,
        pattern=SERIES_PATTERN,
        description="Instead of at: the series this is an episode of; it takes the next free "
        "occurrence.",
    )
    latest: str | None = Field(
        default=None,
        description="Only with at or series: when its day is full, it may go to a later day, "
        "up to this time (a bare date means the end of that day). Without it, a fixed-time "
        "post never leaves its day: it waits for the editor. " + TIME_HELP,
    )
    priority: Literal["normal", "urgent"] = Field(
        default="normal",
        description="urgent (a closure notice): placed before the other posts of its kind, "
        "it may take the time of a post without a fixed time, which is placed again.",
    )
    variants: dict[str, VariantModel] = Field(
        default_factory=dict,
        description="Per-account overrides of title, text, link, media, tags and at.",
    )
    campaign: str | None = Field(
        default=None,
        max_length=100,
        description="Campaign name for the utm_campaign of links to the library's own sites "
        "(default: the series, else the post's id).",
    )
    announces: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="The id of a post whose blog article this post announces: it waits until "
        "that article is published and links to it.",
    )
    cancel: bool = Field(default=False, description="true withdraws the post if not yet sent.")


class _UntitledFields(GenerateJsonSchema):
    """Field titles would only repeat the key names; descriptions carry the help."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


_KEYS_AT: dict[tuple[str | int, ...], type[BaseModel]] = {
    (): PostModel,
    ("window",): WindowModel,
    ("variants", "*"): VariantModel,
    ("media", "#"): MediaModel,
    ("variants", "*", "media", "#"): MediaModel,
}
_PATTERN_HELP = {
    "id": "must be lowercase letters, digits and . _ / - (at most 200), such as escalade-2026",
    "series": "must be lowercase letters, digits and dashes, such as boudoir",
    "link": "must be a web address starting with http:// or https://",
}


def describe_error(detail: ErrorDetails) -> str:
    """One pydantic error as a sentence that names the key and says what to write."""
    loc = tuple(detail["loc"])
    name = _dotted(loc)
    kind = detail["type"]
    if kind == "extra_forbidden":
        parent = tuple("#" if isinstance(part, int) else part for part in loc[:-1])
        if parent[:1] == ("variants",) and len(parent) > 1:
            parent = ("variants", "*", *parent[2:])
        model = _KEYS_AT.get(parent)
        known = [field.alias or key for key, field in model.model_fields.items()] if model else []
        return f"unknown key {loc[-1]!r}{suggest_key(str(loc[-1]), known)}" + (
            f"; known keys here: {', '.join(known)}" if known else ""
        )
    if kind == "missing":
        return f"{name} is missing"
    if kind == "string_type":
        if detail["input"] is None:
            return f"{name} is empty; give a value or remove the key"
        return f"{name} must be text; put the value in quotes to keep it as written"
    if kind == "list_type":
        return f"{name} must be a list, such as [a, b]"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"{name} must be a mapping of keys"
    if kind == "bool_type":
        return f"{name} must be true or false"
    if kind == "string_pattern_mismatch":
        field = str(loc[-1])
        return f"{name} {_PATTERN_HELP.get(field, 'has the wrong form')}"
    if kind in {"too_short", "string_too_short"}:
        return f"{name} is empty"
    if kind == "literal_error":
        expected = detail.get("ctx", {}).get("expected", "")
        return f"{name} must be one of {expected}"
    if kind == "value_error":
        return f"{name} {detail.get('ctx', {}).get('error', detail['msg'])}"
    return f"{name}: {detail['msg']}"


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def post_file_json_schema() -> dict[str, Any]:
    """The JSON Schema of post files, as committed in ``schema/post-file.schema.json``."""
    schema = PostModel.model_json_schema(by_alias=True, schema_generator=_UntitledFields)
    schema.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "relais post file",
        **schema,
    }


def suggest_key(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
