"""The transparency room's error codes: the public record, its signed log, tiles and proofs."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class LogError(ErrorCode):
    NO_SUCH_RECORD = ("transparency.no_such_record", "public record %(record)s does not exist")
    RECORD_NOT_SIGNED = ("transparency.record_not_signed", "public record %(record)s is not in a signed checkpoint yet")
    NO_CHECKPOINT = ("transparency.no_checkpoint", "the public log has no signed checkpoint yet")
    DIRECTORY_LARGER = ("transparency.directory_larger",
                        "%(directory)s holds a larger log (%(previous)s) than the database (%(size)s)")
    RECORDS_MISSING = ("transparency.records_missing",
                       "records are missing: the directory reached %(reached)s, the log is %(size)s")
    TILES_MISMATCH = ("transparency.tiles_mismatch",
                      "the tiles written to %(directory)s do not match the signed checkpoint of size %(size)s; "
                      "run huzhu ledger check")
    TILE_DISAGREES = ("transparency.tile_disagrees",
                      "stored tile %(level)s/%(index)s disagrees with the leaves being added; run huzhu ledger check")
    RECORD_GAP = ("transparency.record_gap", "public record %(missing)s is missing (next is %(next)s); not signing")
    RECORD_HASH = ("transparency.record_hash",
                   "public record %(record)s: content does not match its hash; not signing")
    TREE_SIZE_RANGE = ("transparency.tree_size_range",
                       "tree_size must be between 1 and %(latest)s, the latest checkpoint's size")
    INDEX_RANGE = ("transparency.index_range", "index must be between 0 and %(last)s for tree_size %(size)s")
    TO_RANGE = ("transparency.to_range", "to must be between 1 and %(latest)s, the latest checkpoint's size")
    FROM_RANGE = ("transparency.from_range", "from must be between 1 and to (%(to)s)")
    START_RANGE = ("transparency.start_range", "start must be between 0 and %(last)s")
    NO_LOG_KEY = ("transparency.no_log_key", "this process has no public log key")
    NOT_A_TILE_PATH = ("transparency.not_a_tile_path", "%(path)s is not a tile path")
    NOT_IN_LOG = ("transparency.not_in_log", "%(path)s is not in the log")
    TILE_RECORDS_MISSING = ("transparency.tile_records_missing", "%(path)s: records are missing")
    NOT_A_HASH = ("transparency.not_a_hash", "%(what)s must be a %(size)s-byte SHA-256 hash")
    LEAF_HASH_SIZE = ("transparency.leaf_hash_size", "leaf hash #%(number)s must be %(size)s bytes, got %(got)s")
    LEAF_INDEX = ("transparency.leaf_index", "leaf index %(index)s is outside the tree of %(leaves)s leaves")
    OLD_SIZE = ("transparency.old_size",
                "old tree size %(old)s must be between 1 and the current tree size %(size)s")
