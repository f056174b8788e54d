"""Validation of XRPC inputs and records against the atproto Lexicon schemas.

The schemas are the published ones (``tests/data/atproto-lexicons/``, see its README for
where they come from). This covers the Lexicon types the procedures relais calls use
(atproto.com/specs/lexicon): object (required, properties), string (maxLength in UTF-8
bytes, maxGraphemes, formats), integer (minimum), boolean, array (maxLength), ref and union
(``$type`` discriminated, across files), blob (accept, maxSize) and unknown. A problem is
reported the way the PDS does: ``InvalidRequest`` with a sentence naming the path.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Any

import regex

from tests.paths import TESTS

LEXICONS = TESTS / "data" / "atproto-lexicons"
_FORMATS = {
    "did": re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$"),
    "handle": re.compile(
        r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z][a-zA-Z0-9-]*$"
    ),
    "nsid": re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*)?)+$"),
    "record-key": re.compile(r"^[a-zA-Z0-9_~.:-]{1,512}$"),
    "language": re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]+)*$"),
    "uri": re.compile(r"^[a-z][a-z0-9+.-]*:\S+$"),
    "cid": re.compile(r"^[a-zA-Z0-9+=]{8,}$"),
}


class LexiconError(ValueError):
    pass


@cache
def lexicon(nsid: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((LEXICONS / f"{nsid}.json").read_text())
    return document


def definition(ref: str, context: str) -> dict[str, Any]:
    """``nsid#name``, ``#name`` (in ``context``) or ``nsid`` (its ``main``)."""
    nsid, _, name = ref.partition("#")
    document = lexicon(nsid or context)
    found: dict[str, Any] = document["defs"][name or "main"]
    return found


def validate(value: Any, schema: dict[str, Any], context: str, path: str) -> None:
    kind = schema.get("type")
    if kind == "ref":
        target = definition(schema["ref"], context)
        validate(value, target, schema["ref"].partition("#")[0] or context, path)
    elif kind == "union":
        if not isinstance(value, dict) or "$type" not in value:
            raise LexiconError(f'{path} must be an object which includes the "$type" property')
        wanted = value["$type"].removesuffix("#main")
        refs = [ref if not ref.startswith("#") else context + ref for ref in schema.get("refs", [])]
        if wanted not in refs:
            raise LexiconError(f"{path} $type must be one of {', '.join(refs)}")
        nsid = wanted.partition("#")[0]
        validate(value, definition(wanted, context), nsid, path)
    elif kind in ("object", "record", "params"):
        body = schema.get("record", schema) if kind == "record" else schema
        if not isinstance(value, dict):
            raise LexiconError(f"{path} must be an object")
        for name in body.get("required", []):
            if name not in value:
                raise LexiconError(f'{path} must have the property "{name}"')
        for name, property_schema in body.get("properties", {}).items():
            if name in value and value[name] is not None:
                validate(value[name], property_schema, context, f"{path}/{name}")
    elif kind == "string":
        _string(value, schema, path)
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise LexiconError(f"{path} must be an integer")
        if "minimum" in schema and value < schema["minimum"]:
            raise LexiconError(f"{path} can not be less than {schema['minimum']}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise LexiconError(f"{path} must be a boolean")
    elif kind == "array":
        if not isinstance(value, list):
            raise LexiconError(f"{path} must be an array")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise LexiconError(f"{path} must not have more than {schema['maxLength']} elements")
        for index, item in enumerate(value):
            validate(item, schema["items"], context, f"{path}/{index}")
    elif kind == "blob":
        _blob(value, schema, path)


def _string(value: Any, schema: dict[str, Any], path: str) -> None:
    if not isinstance(value, str):
        raise LexiconError(f"{path} must be a string")
    if "maxLength" in schema and len(value.encode("utf-8")) > schema["maxLength"]:
        raise LexiconError(f"{path} must not be longer than {schema['maxLength']} characters")
    if "maxGraphemes" in schema and len(regex.findall(r"\X", value)) > schema["maxGraphemes"]:
        raise LexiconError(f"{path} must not be longer than {schema['maxGraphemes']} graphemes")
    form = schema.get("format")
    if form == "datetime":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise LexiconError(f"{path} must be an valid atproto datetime") from None
        if moment.tzinfo is None:
            raise LexiconError(f"{path} must be an valid atproto datetime (with a timezone)")
    elif form == "at-identifier":
        if not (_FORMATS["did"].match(value) or _FORMATS["handle"].match(value)):
            raise LexiconError(f"{path} must be a valid did or a handle")
    elif form in _FORMATS and not _FORMATS[form].match(value):
        raise LexiconError(f"{path} must be a valid {form}")


def _blob(value: Any, schema: dict[str, Any], path: str) -> None:
    if not isinstance(value, dict) or value.get("$type") != "blob":
        raise LexiconError(f"{path} should be a blob ref")
    mime = str(value.get("mimeType", ""))
    accepted = schema.get("accept", ["*/*"])
    if not any(
        pattern == "*/*"
        or pattern == mime
        or (pattern.endswith("/*") and mime.startswith(pattern[:-1]))
        for pattern in accepted
    ):
        raise LexiconError(f"{path} has the wrong type {mime}; accepted: {', '.join(accepted)}")
    if "maxSize" in schema and int(value.get("size", 0)) > schema["maxSize"]:
        raise LexiconError(f"{path} is too big: {value.get('size')} > {schema['maxSize']} bytes")


def validate_input(nsid: str, body: Any) -> None:
    schema = definition(nsid, nsid)["input"]["schema"]
    validate(body, schema, nsid, "Input")


def validate_record(collection: str, record: Any) -> None:
    if not isinstance(record, dict) or record.get("$type") != collection:
        raise LexiconError(f"Invalid {collection} record: Record/$type must be {collection}")
    validate(record, definition(collection, collection), collection, "Record")
