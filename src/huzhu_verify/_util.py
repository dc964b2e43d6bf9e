"""Small shared helpers: strict base64, strict decimals, atomic file writes.

Private to ``huzhu_verify`` (and the server's tile writer, which publishes the same files).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from pathlib import Path

from huzhu_verify.errors import MalformedError

__all__ = ["atomic_write", "b64decode_strict", "b64encode", "parse_decimal"]

_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z")
MAX_INT63 = (1 << 63) - 1


def b64encode(data: bytes) -> str:
    """Standard base64 (RFC 4648 §4) with padding."""
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str, what: str) -> bytes:
    """Decode standard, padded base64 (RFC 4648 §4); anything else is a :class:`MalformedError`."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedError(f"{what} is not valid base64: {text[:80]!r}") from None


def parse_decimal(text: str, what: str, maximum: int = MAX_INT63) -> int:
    """ASCII decimal with no leading zeroes (``0`` itself allowed), at most ``maximum``."""
    if not _DECIMAL.match(text):
        raise MalformedError(f"{what} must be a decimal number without leading zeroes, got {text[:40]!r}")
    value = int(text)
    if value > maximum:
        raise MalformedError(f"{what} {value} is larger than the largest supported value {maximum}")
    return value


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that readers see the old file or the new one, never a part.

    The bytes go to a temporary file in the same directory, which is renamed over ``path``. With
    ``durable`` the file and then the directory are fsync'ed, so the new content survives a crash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Persist a directory's entries (new names, renames); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
