"""huzhu_verify: check huzhu's public transparency log from its published files alone.

A self-contained verifier (Python standard library and ``cryptography`` only, enforced by a test)
for the C2SP formats the log is published in:

- :mod:`~huzhu_verify.note`         signed notes and Ed25519 keys (c2sp.org/signed-note)
- :mod:`~huzhu_verify.checkpoint`   checkpoints, the signed tree heads (c2sp.org/tlog-checkpoint)
- :mod:`~huzhu_verify.cosignature`  witness cosignatures, Ed25519 v1 (c2sp.org/tlog-cosignature)
- :mod:`~huzhu_verify.merkle`       RFC 9162 roots, proof shapes and proof verification
- :mod:`~huzhu_verify.tiles`        tile paths, tile readers (directory, URL), proofs, replay
                                    (c2sp.org/tlog-tiles)
- :mod:`~huzhu_verify.witness`      the witness protocol as pure logic (c2sp.org/tlog-witness)
- :mod:`~huzhu_verify.policy`       trust policies: log keys, witnesses, k-of-n quorum
                                    (c2sp.org/tlog-policy)
- :mod:`~huzhu_verify.monitor`      remembering checkpoints: forks and rollbacks fail loudly
- :mod:`~huzhu_verify.cli`          the ``huzhu-verify`` command

Every failure is a :class:`~huzhu_verify.errors.VerificationError`. The server side publishes
with these same functions (``huzhu.transparency.tiles``), so the formats have one definition.
"""

from huzhu_verify.errors import VerificationError

__all__ = ["VerificationError"]
