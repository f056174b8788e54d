"""Progress bars for long work started by a person at a terminal (never in the daemon's log).

A bar is drawn on stderr only when it is a terminal and the work is long enough to be
worth one, so scripts, pipes and the journal see nothing of it. The bar is click's, the
CLI's own toolkit: no second library for the same job.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

import click

Item = TypeVar("Item")
WORTH_A_BAR = 20


def with_progress(items: Iterable[Item], *, what: str, unit: str = "file") -> Iterator[Item]:
    """``items``, one by one, with a bar labelled ``what`` counting ``unit``s when shown."""
    total = len(items) if isinstance(items, Sized) else None
    if not sys.stderr.isatty() or (total is not None and total < WORTH_A_BAR):
        yield from items
        return
    with click.progressbar(
        items, length=total, label=f"{what} ({unit}s)", file=sys.stderr, show_pos=True
    ) as bar:
        yield from bar
