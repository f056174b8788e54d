"""Intake against a contributor racing it: files swapped for links and FIFOs while scanned.

For a bounded time, one thread keeps replacing a post file and its photo (atomically, by
rename) with a regular file, a symbolic link to a file outside the inbox, a hard link to
that file, or a FIFO, while the inbox is scanned over and over. Whatever the interleaving:
the outside bytes never reach the media store nor the queue, and no scan hangs.

Run with ``-s`` for the figures (scans, swaps, queued, rejected by reason).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from scheduler.app import App
from scheduler.db.models import Delivery, Post
from scheduler.delivery.transitions import transaction
from scheduler.intake.inbox import IntakeReport

RACE_SECONDS = float(os.environ.get("RELAIS_RACE_SECONDS", "3"))
SCAN_TIMEOUT = 10.0
JPEG = bytes.fromhex("ffd8ffe000104a4649460001") + b"\x00" * 200
SECRET = b"OUTSIDE-SECRET"
POST = """\
library: redaction
author: communication
text: "Inside N"
to: [facebook]
media:
  - {file: photo.jpg, alt: Une photo}
"""


class Racer(threading.Thread):
    """Swaps ``target`` among the four kinds of thing until told to stop."""

    def __init__(self, targets: dict[Path, tuple[bytes, Path]], seed: int) -> None:
        super().__init__(daemon=True)
        self.targets = targets  # path -> (inside bytes, outside file)
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.swaps: Counter[str] = Counter()

    def run(self) -> None:
        counter = 0
        while not self.stop.is_set():
            target = self.rng.choice(sorted(self.targets))
            inside, outside = self.targets[target]
            kind = self.rng.choice(["regular", "symlink", "hardlink", "fifo"])
            counter += 1
            swap = target.with_name(f".swap-{counter}")
            if kind == "regular":
                swap.write_bytes(inside.replace(b"Inside N", b"Inside %d" % counter))
            elif kind == "symlink":
                swap.symlink_to(outside)
            elif kind == "hardlink":
                os.link(outside, swap)
            else:
                os.mkfifo(swap)
            past = time.time() - 60
            os.utime(swap, (past, past), follow_symlinks=False)
            os.replace(swap, target)
            self.swaps[kind] += 1
            time.sleep(self.rng.random() / 500)  # some scans find a regular file in place


def scan_with_deadline(app: App) -> IntakeReport:
    reports: list[IntakeReport] = []
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            reports.append(app.intake().scan())
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    worker = threading.Thread(target=scan, daemon=True)
    worker.start()
    worker.join(SCAN_TIMEOUT)
    assert not worker.is_alive(), f"an inbox scan hung for more than {SCAN_TIMEOUT} s"
    assert not errors, errors
    return reports[0]


def test_swapped_links_and_fifos_never_bring_outside_bytes_in_nor_hang_the_scan(
    app: App, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret_photo = outside / "secret.jpg"
    secret_photo.write_bytes(JPEG + SECRET)
    secret_post = outside / "secret.yaml"
    secret_post.write_bytes(POST.replace("Inside N", SECRET.decode()).encode())
    folder = app.config.inbox_dir / "race"
    folder.mkdir(parents=True)
    post_bytes = POST.encode()
    (folder / "photo.jpg").write_bytes(JPEG + b"inside")
    racer = Racer(
        {
            folder / "post.yaml": (post_bytes, secret_post),
            folder / "photo.jpg": (JPEG + b"inside", secret_photo),
        },
        seed=7,
    )
    scans, queued = 0, 0
    rejected: Counter[str] = Counter()
    racer.start()
    deadline = time.monotonic() + RACE_SECONDS
    try:
        while time.monotonic() < deadline:
            report = scan_with_deadline(app)
            scans += 1
            queued += len(report.queued)
            for _, reason in report.rejected:
                rejected[re.sub(r"\d+", "N", reason.split(";")[0])[:70]] += 1
    finally:
        racer.stop.set()
        racer.join(5)

    stored = (
        list(app.config.media_store_dir.glob("*")) if app.config.media_store_dir.exists() else []
    )
    assert not [path for path in stored if SECRET in path.read_bytes()]
    secret_sha = hashlib.sha256(secret_post.read_bytes()).hexdigest()
    with transaction(app.sessions) as session:
        assert session.scalars(select(Post).where(Post.sha256 == secret_sha)).all() == []
        payloads = [str(payload) for payload in session.scalars(select(Delivery.payload))]
    assert not [payload for payload in payloads if SECRET.decode() in payload]
    assert {hashlib.sha256(JPEG + SECRET).hexdigest()} & {p.stem for p in stored} == set()
    print(
        f"\nrace: {RACE_SECONDS:.0f} s, {scans} scans, swaps {dict(racer.swaps)}, "
        f"{queued} queued, {sum(rejected.values())} rejected, {len(stored)} media stored"
    )
    for reason, count in rejected.most_common():
        print(f"  {count:5d}  {reason}")
    assert scans >= 5 and sum(racer.swaps.values()) >= 20
