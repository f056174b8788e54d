"""Connector options agree: one name for the request timeout, durations written as in the
rest of config.yaml (``30s``, ``12h``; a bare number is seconds) wherever time is meant."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

import connectors
from connectors.x import XOptions
from connectors.youtube import YouTubeOptions

# Words that make an option a length of time, whatever the connector.
TIME_WORDS = ("timeout", "wait", "interval", "ahead")


def option_models() -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for module in pkgutil.iter_modules(connectors.__path__):
        loaded = importlib.import_module(f"connectors.{module.name}")
        for name, value in vars(loaded).items():
            if (
                name.endswith("Options")
                and isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == loaded.__name__
            ):
                found[name] = value
    return sorted(found.values(), key=lambda model: model.__name__)


MODELS = option_models()


def test_every_connector_option_model_is_found() -> None:
    names = {model.__name__ for model in MODELS}
    assert {"FacebookOptions", "InstagramOptions", "XOptions", "YouTubeOptions",
            "WordPressOptions", "FlickrOptions"} <= names  # fmt: skip


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_times_are_durations_and_the_request_timeout_is_called_timeout(
    model: type[BaseModel],
) -> None:
    for name, field in model.model_fields.items():
        assert not name.endswith("_seconds"), f"{model.__name__}.{name}: use a duration"
        if any(word in name for word in TIME_WORDS):
            assert field.annotation is timedelta, f"{model.__name__}.{name} is not a Duration"
            assert isinstance(field.default, timedelta)
        if name == "timeout":
            assert model.model_fields[name].metadata, "timeout is bounded (> 0, <= 10m)"


# Connectors that make network requests (the file-system ones have no timeout).
NETWORKED = [model for model in MODELS if "timeout" in model.model_fields]


@pytest.mark.parametrize("model", NETWORKED, ids=lambda model: model.__name__)
def test_a_timeout_reads_as_a_duration_or_as_seconds(model: type[BaseModel]) -> None:
    required = _required(model)
    for written in ("45s", 45, 45.0):
        options = model.model_validate(required | {"timeout": written})
        assert getattr(options, "timeout") == timedelta(seconds=45)  # noqa: B009
    for refused in ("0s", "1h", "soon"):
        with pytest.raises(ValueError):
            model.model_validate(required | {"timeout": refused})


def test_the_documented_youtube_upload_ahead_loads() -> None:
    assert YouTubeOptions.model_validate({"upload_ahead": "12h"}).upload_ahead == timedelta(
        hours=12
    )
    with pytest.raises(ValueError):
        YouTubeOptions.model_validate({"upload_ahead": "0s"})


def test_x_options_written_with_their_old_names_still_load() -> None:
    options = XOptions.model_validate(
        {"auth": "oauth1", "timeout_seconds": 20, "processing_timeout_seconds": 900}
    )
    assert options.timeout == timedelta(seconds=20)
    assert options.processing_timeout == timedelta(minutes=15)


def _required(model: type[BaseModel]) -> dict[str, Any]:
    """Options each model accepts, with nothing about time."""
    examples: dict[str, Any] = {
        "page_id": "1234",
        "ig_user_id": "1789",
        "public_media_base_url": "https://media.example.org/",
        "auth": "oauth1",
        "base_url": "https://blog.example.org",
        "username": "relais",
        "instance": "https://mastodon.example.org",
        "handle": "bibliotheques.example.org",
    }
    return {name: value for name, value in examples.items() if name in model.model_fields}
