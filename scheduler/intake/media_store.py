"""A content-addressed copy of every media file, taken at intake.

Once a post is queued it no longer depends on the inbox: a contributor may move or
delete the original, and an edited image cannot change a post that was approved.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from scheduler.intake.media import MediaError, MediaRef

_CHUNK = 1 << 20


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def name_for(self, ref: MediaRef) -> str:
        return ref.sha256 + ref.source.suffix.lower()

    def store(self, ref: MediaRef) -> str:
        """Copy ``ref`` in (once) from the descriptor it was checked through, and return
        its name inside the store.

        The copy is hashed as it is written: bytes that differ from the ones checked (a
        file rewritten in place since) are refused, so a stored file always holds what
        its name, the checked hash, says. Raises MediaError.
        """
        name = self.name_for(ref)
        target = self.root / name
        if target.exists():
            return name
        if ref.handle is None or ref.handle.closed:
            raise MediaError(f"{ref.source.name!r} was not opened by the check; drop it again")
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            digest = hashlib.sha256()
            original = ref.handle
            original.seek(0)
            with os.fdopen(handle, "wb") as copy:
                while chunk := original.read(_CHUNK):
                    digest.update(chunk)
                    copy.write(chunk)
                copy.flush()
                os.fsync(copy.fileno())
            if digest.hexdigest() != ref.sha256:
                raise MediaError(
                    f"{ref.source.name!r} changed while it was being taken; drop the post again"
                )
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return name

    def path(self, name: str) -> Path:
        return self.root / name
