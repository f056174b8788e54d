"""Progress bars appear for a person at a terminal, never in pipes or logs."""

from __future__ import annotations

import io

import pytest

from scheduler.progress import WORTH_A_BAR, with_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_job_at_a_terminal_shows_a_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    items = list(range(WORTH_A_BAR * 2))
    assert list(with_progress(items, what="checking")) == items
    assert "checking" in terminal.getvalue()


def test_short_jobs_and_pipes_show_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert list(with_progress([1, 2], what="checking")) == [1, 2]
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    assert list(with_progress(list(range(100)), what="checking")) == list(range(100))
    assert terminal.getvalue() == pipe.getvalue() == ""


def test_work_of_unknown_length_at_a_terminal_shows_a_bar_counting_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    items = (n for n in range(3))
    assert list(with_progress(items, what="scanning", unit="post")) == [0, 1, 2]
    assert "scanning (posts)" in terminal.getvalue() and "3" in terminal.getvalue()
