"""The public log's signing key: an Ed25519 key in the C2SP signed-note key format, named by the log's
origin line (``huzhu.example/log``).

It comes from the setting ``HUZHU_LOG_SIGNING_KEY`` (the signer key text, ``PRIVATE+KEY+<origin>+…``)
or, when that is not set, from ``<data dir>/log-signing.key``, created with mode 0600 the first time
the platform starts. The private key is never printed or logged; the verifier key (public) is what
``/.well-known/huzhu-log-key``, the API and ``huzhu publish`` hand out.
"""

from __future__ import annotations

import os
from pathlib import Path

from huzhu_verify.errors import VerificationError
from huzhu_verify.note import Ed25519Signer

KEY_FILE = "log-signing.key"


class LogKeyError(RuntimeError):
    """The configured key cannot be used (unreadable, malformed, or for another origin)."""


def _check_origin(signer: Ed25519Signer, origin: str, where: str) -> Ed25519Signer:
    if signer.name != origin:
        raise LogKeyError(f"the log signing key in {where} is for the log {signer.name!r}, "
                          f"not the configured origin {origin!r} (HUZHU_LOG_ORIGIN)")
    return signer


def load_log_signer(data_dir: Path, origin: str, skey: str | None = None) -> Ed25519Signer:
    """The log's signer: from ``skey`` if given, else from the key file (created on first use)."""
    if skey:
        try:
            return _check_origin(Ed25519Signer.from_skey(skey.strip()), origin, "HUZHU_LOG_SIGNING_KEY")
        except VerificationError as exc:
            raise LogKeyError(f"HUZHU_LOG_SIGNING_KEY is not a signer key: {exc}") from None
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        signer = Ed25519Signer.generate(origin)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process starting at the same time made it: use theirs
            fd = -1
        if fd >= 0:
            try:
                os.write(fd, (signer.skey + "\n").encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
    text = path.read_text("ascii").strip()
    try:
        return _check_origin(Ed25519Signer.from_skey(text), origin, str(path))
    except VerificationError as exc:
        raise LogKeyError(f"{path} does not hold a signer key: {exc}") from None
