"""What the connectors that write to the local file system share."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from connectors.base import Verdict
from connectors.errors import Permanent, PublishError, Retryable

_TRANSIENT = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EBUSY})
_ADVICE = {
    errno.EACCES: "give the relais user access to it",
    errno.EPERM: "give the relais user access to it",
    errno.EROFS: "it is on a read-only file system; point the account at a writable folder",
    errno.ENOTDIR: "a file stands where a folder is needed; move it or change the option",
    errno.EEXIST: "a file stands where a folder is needed; move it or change the option",
    errno.EISDIR: "a folder stands where a file is needed; move it or change the option",
    errno.ENAMETOOLONG: "the path is too long; choose a shorter one",
}


def translate_os_error(
    error: OSError, path: Path, account: str, *, doing: str = "write"
) -> PublishError:
    """Turn a file-system failure into what dispatch understands; the caller raises it.

    A full disk or a flaky device may recover by itself, so those are retried; missing
    permissions or a file in the way need a person, so retrying cannot help.
    """
    reason = error.strerror or type(error).__name__
    if error.errno in _TRANSIENT:
        translated: PublishError = Retryable(f"account {account}: cannot {doing} {path}: {reason}")
    elif error.errno in _ADVICE:
        translated = Permanent(
            f"account {account}: cannot {doing} {path}: {reason}; {_ADVICE[error.errno]}"
        )
    else:
        # Unknown causes are retried: the attempt cap still bounds them.
        translated = Retryable(f"account {account}: cannot {doing} {path}: {reason}")
    translated.__cause__ = error
    return translated


def writable_folder_verdict(folder: Path, what: str) -> Verdict:
    """The offline accounts' credentials check: can relais write where they publish?"""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return Verdict(ok=False, message=f"{what} {folder} cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        return Verdict(ok=False, message=f"{what} {existing} is not writable by relais' user")
    return Verdict(ok=True, message=f"writes to {folder}")
