"""Translating Graph API answers and transport failures into relais' error classes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import requests
from urllib3.exceptions import ProtocolError
from werkzeug.wrappers import Request, Response

from connectors.credentials import Secret
from connectors.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from connectors.graph import (
    GRAPH_VERSION,
    GraphClient,
    GraphError,
    GraphTransportError,
    publish_error,
    regain_access_at,
)
from tests.fakes.wsgi import DropConnection, ResetBeforeSending, session_for
from tests.support import START


def answering(status: int, body: Any, headers: dict[str, str] | None = None) -> GraphClient:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        assert request.path.startswith(f"/{GRAPH_VERSION}/")
        assert request.headers["Authorization"] == "OAuth secret-token"
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(text, status, headers=headers)(environ, start_response)

    return GraphClient(
        api_base="https://graph.facebook.com",
        token=Secret("secret-token"),
        session=session_for(app),
        timeout=5,
    )


def error_of(client: GraphClient) -> GraphError | GraphTransportError:
    with pytest.raises((GraphError, GraphTransportError)) as raised:
        client.post("123/feed", {"message": "x"})
    assert isinstance(raised.value, GraphError | GraphTransportError)
    return raised.value


def translated(client: GraphClient, *, creating: bool = True) -> Exception:
    return publish_error(
        error_of(client), account="fb", doing="posting", creating=creating, now=START
    )


def graph_body(code: int, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": f"error {code}", "type": "OAuthException", "code": code, **extra}}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1, Retryable),
        (2, Retryable),
        (4, RateLimited),
        (17, RateLimited),
        (341, RateLimited),
        (613, RateLimited),
        (368, RateLimited),
        (102, AuthExpired),
        (190, AuthExpired),
        (10, Permanent),
        (200, Permanent),
        (299, Permanent),
        (100, Permanent),
    ],
)
def test_graph_codes_map_to_their_class(code: int, expected: type[Exception]) -> None:
    assert isinstance(translated(answering(400, graph_body(code))), expected)


def test_is_transient_means_retry() -> None:
    body = graph_body(9999, is_transient=True)
    assert isinstance(translated(answering(400, body)), Retryable)


def test_a_temporary_block_waits_an_hour_without_an_estimate() -> None:
    failure = translated(answering(400, graph_body(368)))
    assert isinstance(failure, RateLimited) and failure.until == START + timedelta(hours=1)


def test_the_longest_estimate_in_the_usage_headers_wins() -> None:
    headers = {
        "X-Business-Use-Case-Usage": json.dumps(
            {"1": [{"estimated_time_to_regain_access": 3}, {"estimated_time_to_regain_access": 7}]}
        ),
        "X-App-Usage": json.dumps({"call_count": 100, "estimated_time_to_regain_access": 5}),
    }
    assert regain_access_at(headers, START) == START + timedelta(minutes=7)
    assert regain_access_at({"X-App-Usage": "not json"}, START) is None


def test_a_5xx_without_a_graph_body_is_ambiguous_for_a_create_only() -> None:
    assert isinstance(translated(answering(502, "<html>Bad gateway</html>")), Ambiguous)
    failure = translated(answering(502, "<html>Bad gateway</html>"), creating=False)
    assert isinstance(failure, Retryable)


def test_a_lost_answer_is_ambiguous_and_a_refused_connection_is_retryable() -> None:
    def dropping(environ: dict[str, Any], start_response: Any) -> Any:
        raise DropConnection("lost")

    def refusing(environ: dict[str, Any], start_response: Any) -> Any:
        raise ResetBeforeSending("refused")

    for app, expected in ((dropping, Ambiguous), (refusing, Retryable)):
        client = GraphClient(
            api_base="https://graph.facebook.com",
            token=Secret("secret-token"),
            session=session_for(app),
            timeout=5,
        )
        assert isinstance(translated(client), expected)


def test_a_connection_reset_after_sending_may_have_been_received() -> None:
    class ResetAdapter(requests.adapters.BaseAdapter):
        def send(  # type: ignore[override]
            self, request: requests.PreparedRequest, **kwargs: Any
        ) -> requests.Response:
            reset = ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
            raise requests.ConnectionError(reset, request=request)

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("https://", ResetAdapter())
    client = GraphClient(
        api_base="https://graph.facebook.com", token=Secret("t"), session=session, timeout=5
    )
    error = error_of(client)
    assert isinstance(error, GraphTransportError) and error.maybe_sent


def test_the_platforms_words_are_kept_and_the_token_is_not() -> None:
    body = graph_body(200, error_user_msg="Ask a Page admin for the permission.")
    failure = translated(answering(403, body))
    assert isinstance(failure, Permanent)
    assert failure.message == "error 200: Ask a Page admin for the permission."
    assert failure.http_status == 403
    assert "secret-token" not in str(failure) + str(failure.__cause__)


def test_the_pinned_graph_version_is_current_and_far_from_its_end_of_service() -> None:
    """Fails when the pinned version is within six months of the end Meta announced: time
    to move GRAPH_VERSION (and its end date, from Meta's changelog) forward."""
    from datetime import UTC, date, datetime, timedelta

    from connectors.graph import GRAPH_VERSION_ENDS

    assert int(GRAPH_VERSION.strip("v").split(".")[0]) >= 24
    today = datetime.now(UTC).date()
    assert isinstance(GRAPH_VERSION_ENDS, date)
    assert GRAPH_VERSION_ENDS - today > timedelta(days=183), (
        f"Graph {GRAPH_VERSION} ends on {GRAPH_VERSION_ENDS}: move to a newer version"
    )
