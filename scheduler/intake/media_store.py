"""A content-addressed copy of every media file, taken at intake.

Once a post is queued it no longer depends on the inbox: a contributor may move or
delete the original, and an edited image cannot change a post that was approved.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from scheduler.intake.media import MediaRef


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def name_for(self, ref: MediaRef) -> str:
        return ref.sha256 + ref.source.suffix.lower()

    def store(self, ref: MediaRef) -> str:
        """Copy ``ref`` in (once) and return its name inside the store."""
        name = self.name_for(ref)
        target = self.root / name
        if target.exists():
            return name
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as copy, ref.source.open("rb") as original:
                shutil.copyfileobj(original, copy)
                copy.flush()
                os.fsync(copy.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return name

    def path(self, name: str) -> Path:
        return self.root / name
