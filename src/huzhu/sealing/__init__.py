"""Personal data sealed at rest: a keyring of AES-256-GCM keys, a column type that seals on write and
opens on read (``SealedText``), keyed digests for lookups, sealed evidence files, and the re-sealing
that lets a key be rotated while the server runs (docs/backup-and-sealing.md)."""

from huzhu.sealing.keyring import Keyring, SealError, attach_keyring, keyring_of, load_keyring
from huzhu.sealing.types import SealedText

__all__ = ["Keyring", "SealError", "SealedText", "attach_keyring", "keyring_of", "load_keyring"]
