"""Progress bars for long work started by a person at a terminal (never in the daemon's log).

A bar is drawn on stderr only when it is a terminal and the work is long enough to be
worth one, so scripts, pipes and the journal see nothing of it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

from tqdm import tqdm

Item = TypeVar("Item")
WORTH_A_BAR = 20


def with_progress(items: Iterable[Item], *, what: str, unit: str = "file") -> Iterator[Item]:
    total = len(items) if isinstance(items, Sized) else None
    shown = sys.stderr.isatty() and (total is None or total >= WORTH_A_BAR)
    yield from tqdm(items, desc=what, unit=unit, total=total, disable=not shown, leave=False)
