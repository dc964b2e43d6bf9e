"""Tiled logs (C2SP tlog-tiles, https://c2sp.org/tlog-tiles): paths, readers, proofs, full replay.

**What a tile holds** (§Merkle Tree). Tile *N* at level *L* is up to 256 consecutive hashes; hash
*i* is MTH(D[(N·256 + i)·256^L : (N·256 + i + 1)·256^L]). Level 0 holds leaf hashes; each hash at
level L+1 is the MTH of a *full* tile at level L. A full tile is 256 hashes (8,192 bytes); the
rightmost tile of each level is *partial* (1-255 hashes) and its path carries its width. A tree of
size *s* has, at level *L*, ⌊s / 256^(L+1)⌋ full tiles and a partial one of width ⌊s / 256^L⌋ mod 256
when that is not zero.

**Paths** (§Merkle Tree, §Log entries)::

    tile/<L>/<N>[.p/<W>]          Merkle tree hashes
    tile/entries/<N>[.p/<W>]      entry bundles: entries each prefixed by a big-endian uint16 length

where <N> is written in zero-padded 3-digit groups, all but the last prefixed by ``x``:
1234067 → ``x001/x234/067``.

**Reading.** A :class:`TileReader` fetches tiles from a directory (:class:`DirectoryTileReader`)
or from an ``http(s)://`` prefix (:class:`HTTPTileReader`, urllib). :class:`TileHashReader`
computes any subtree hash, tree hash, inclusion or consistency proof of a tree size from the tiles
of that size. Tiles are untrusted input: proofs computed from them are then verified against
signed roots (:mod:`huzhu_verify.merkle`), so a wrong tile makes verification fail, never pass.
If a partial tile is gone, the full tile is read instead (allowed by §Partial Tiles).

**Replay** (:func:`replay`) streams every entry bundle, recomputes every leaf hash, every tile at
every level and the root, and compares each with what is published and with the checkpoint.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Protocol

from huzhu_verify.checkpoint import Checkpoint
from huzhu_verify.errors import MalformedError, TileError, TileNotFoundError
from huzhu_verify.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    consistency_ranges,
    fold_subtree_roots,
    inclusion_ranges,
    perfect_root,
    perfect_subtrees,
)

__all__ = [
    "ENTRIES",
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "DirectoryTileReader",
    "HTTPTileReader",
    "ReplayReport",
    "TileHashReader",
    "TileReader",
    "TileRef",
    "edge_root",
    "format_entry_bundle",
    "format_tile_index",
    "open_tile_reader",
    "parse_entry_bundle",
    "parse_tile_path",
    "read_bundle_checked",
    "read_tile_checked",
    "replay",
    "tile_refs_for_tree",
    "tile_width",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (and entries in a full bundle): 256."""
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF
"""Largest entry an entry bundle can carry (its length prefix is a uint16)."""
ENTRIES = -1
"""The ``level`` of a :class:`TileRef` that names an entry bundle."""
_TILE_BYTES = TILE_WIDTH * HASH_SIZE
_sha256 = hashlib.sha256


# --- paths -------------------------------------------------------------------------------------


def format_tile_index(index: int) -> str:
    """Tile index in 3-digit path groups: 1234067 → ``x001/x234/067``."""
    if index < 0:
        raise ValueError(f"tile index {index} is negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


@dataclass(frozen=True, order=True)
class TileRef:
    """One tile (``level`` 0-63) or entry bundle (``level == ENTRIES``), with its width (1-256)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not (self.level == ENTRIES or 0 <= self.level <= MAX_LEVEL):
            raise ValueError(f"tile level {self.level} is outside 0..{MAX_LEVEL}")
        if self.index < 0 or not 1 <= self.width <= TILE_WIDTH:
            raise ValueError(f"bad tile index {self.index} or width {self.width}")

    @classmethod
    def entries(cls, index: int, width: int = TILE_WIDTH) -> TileRef:
        return cls(ENTRIES, index, width)

    @property
    def is_entries(self) -> bool:
        return self.level == ENTRIES

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        level = "entries" if self.is_entries else str(self.level)
        suffix = f".p/{self.width}" if self.is_partial else ""
        return f"tile/{level}/{format_tile_index(self.index)}{suffix}"

    @property
    def full(self) -> TileRef:
        """The full tile this (partial) tile is a prefix of."""
        return TileRef(self.level, self.index)

    def leaf_range(self, position: int = 0) -> tuple[int, int]:
        """Leaves [lo, hi) that hash (or entry) ``position`` of this tile covers."""
        level = max(self.level, 0)
        span = TILE_WIDTH**level
        first = (self.index * TILE_WIDTH + position) * span
        return first, first + span

    def __str__(self) -> str:
        return self.path


def parse_tile_path(path: str) -> TileRef:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``; only canonical paths pass."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise MalformedError(f"malformed tile path {path!r}")
    width = TILE_WIDTH
    if len(parts) >= 4 and parts[-2].endswith(".p"):
        if not parts[-1].isdigit():
            raise MalformedError(f"malformed tile path {path!r}: bad width")
        width = int(parts[-1])
        parts = [*parts[:-2], parts[-2][: -len(".p")]]
    level_text, groups = parts[1], parts[2:]
    try:
        level = ENTRIES if level_text == "entries" else int(level_text)
        index = 0
        for group in groups:
            digits = group[1:] if group.startswith("x") else group
            if len(digits) != 3 or not digits.isdigit():
                raise ValueError(group)
            index = index * 1000 + int(digits)
        ref = TileRef(level, index, width)
    except ValueError:
        raise MalformedError(f"malformed tile path {path!r}") from None
    if ref.path != path:
        raise MalformedError(f"non-canonical tile path {path!r} (expected {ref.path!r})")
    return ref


def tile_width(level: int, index: int, tree_size: int) -> int:
    """Width of tile ``index`` at ``level`` (``ENTRIES`` counts as 0) in a tree of ``tree_size``; 0 if absent."""
    hashes_at_level = tree_size >> (TILE_HEIGHT * max(level, 0))
    return max(0, min(TILE_WIDTH, hashes_at_level - index * TILE_WIDTH))


def tile_refs_for_tree(tree_size: int, *, entries: bool = True) -> Iterator[TileRef]:
    """Every tile (and entry bundle) a tree of ``tree_size`` leaves publishes, level by level."""
    levels = [ENTRIES, 0] if entries else [0]
    level = 1
    while tree_size >> (TILE_HEIGHT * level):
        levels.append(level)
        level += 1
    for level in levels:
        count = tree_size >> (TILE_HEIGHT * max(level, 0))
        for index in range((count + TILE_WIDTH - 1) // TILE_WIDTH):
            yield TileRef(level, index, tile_width(level, index, tree_size))


# --- entry bundles -------------------------------------------------------------------------------


def format_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """Entries, each prefixed by its length as a big-endian uint16 (§Log entries)."""
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise MalformedError(f"entry {i} is {len(entry)} bytes; entry bundles carry at most {MAX_ENTRY_SIZE}")
        out += len(entry).to_bytes(2, "big")
        out += entry
    return bytes(out)


def parse_entry_bundle(data: bytes, expected: int | None = None) -> list[bytes]:
    """Split an entry bundle; with ``expected``, it must hold exactly that many entries."""
    entries: list[bytes] = []
    pos, end = 0, len(data)
    view = memoryview(data)
    while pos < end:
        if pos + 2 > end:
            raise TileError(f"entry bundle ends inside the length prefix of entry {len(entries)}")
        length = (data[pos] << 8) | data[pos + 1]
        pos += 2
        if pos + length > end:
            raise TileError(f"entry {len(entries)} claims {length} bytes but the bundle ends first")
        entries.append(bytes(view[pos: pos + length]))
        pos += length
    if expected is not None and len(entries) != expected:
        raise TileError(f"the entry bundle holds {len(entries)} entries, the tree needs {expected}")
    return entries


# --- readers -------------------------------------------------------------------------------------


class TileReader(Protocol):
    """A source of a tiled log's files: tiles, entry bundles and the checkpoint (all untrusted)."""

    @property
    def location(self) -> str:
        """Where the files come from (directory or URL), for reports."""
        ...

    def read_tile(self, ref: TileRef) -> bytes:
        """The bytes of a tile or bundle; :class:`TileNotFoundError` if it is not published."""
        ...

    def read_checkpoint(self) -> bytes:
        """The bytes of ``<prefix>/checkpoint``."""
        ...


class DirectoryTileReader:
    """Reads a tiled log published as files under a directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def location(self) -> str:
        return str(self.root)

    def _read(self, relative: str) -> bytes:
        try:
            return (self.root / relative).read_bytes()
        except FileNotFoundError:
            raise TileNotFoundError(f"{relative} is not published in {self.root}") from None
        except OSError as exc:
            raise TileError(f"cannot read {relative} in {self.root}: {exc.strerror}") from None

    def read_tile(self, ref: TileRef) -> bytes:
        return self._read(ref.path)

    def read_checkpoint(self) -> bytes:
        return self._read("checkpoint")


class HTTPTileReader:
    """Reads a tiled log from an ``http(s)://`` prefix with urllib (gzip accepted, §Log entries)."""

    def __init__(self, prefix: str, *, timeout: float = 30.0, opener: urllib.request.OpenerDirector | None = None):
        scheme = urllib.parse.urlsplit(prefix).scheme
        if scheme not in {"http", "https"}:
            raise MalformedError(f"a tile URL must be http:// or https://, got {prefix!r}")
        self.prefix = prefix.rstrip("/") + "/"
        self.timeout = timeout
        self._opener = opener or urllib.request.build_opener()

    @property
    def location(self) -> str:
        return self.prefix

    def _get(self, relative: str) -> bytes:
        url = self.prefix + relative
        request = urllib.request.Request(
            url, headers={"Accept-Encoding": "gzip, identity", "User-Agent": "huzhu-verify"}
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body: bytes = response.read()
                if response.headers.get("Content-Encoding", "identity").lower() == "gzip":
                    body = gzip.decompress(body)
                return body
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise TileNotFoundError(f"{url} is not published (HTTP 404)") from None
            raise TileError(f"fetching {url} failed: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, EOFError) as exc:
            raise TileError(f"fetching {url} failed: {exc}") from None

    def read_tile(self, ref: TileRef) -> bytes:
        return self._get(ref.path)

    def read_checkpoint(self) -> bytes:
        return self._get("checkpoint")


def open_tile_reader(source: str | Path) -> TileReader:
    """A reader for a directory path or an ``http(s)://`` prefix."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        return HTTPTileReader(text)
    return DirectoryTileReader(Path(text))


def read_tile_checked(reader: TileReader, ref: TileRef) -> bytes:
    """Read a hash tile of the expected width; a missing partial tile falls back to its full tile."""
    try:
        data = reader.read_tile(ref)
    except TileNotFoundError:
        if not ref.is_partial:
            raise
        try:
            data = reader.read_tile(ref.full)[: ref.width * HASH_SIZE]
        except TileNotFoundError:
            raise TileNotFoundError(f"neither {ref.path} nor {ref.full.path} is published") from None
    if len(data) != ref.width * HASH_SIZE:
        raise TileError(f"{ref.path} is {len(data)} bytes; a tile of width {ref.width} is {ref.width * HASH_SIZE}")
    return data


def read_bundle_checked(reader: TileReader, ref: TileRef) -> list[bytes]:
    """Read an entry bundle holding exactly ``ref.width`` entries (falling back like tiles)."""
    try:
        data = reader.read_tile(ref)
        return parse_entry_bundle(data, ref.width)
    except TileNotFoundError:
        if not ref.is_partial:
            raise
        entries = parse_entry_bundle(reader.read_tile(ref.full), TILE_WIDTH)
        return entries[: ref.width]
    except TileError as exc:
        raise TileError(f"{ref.path}: {exc}") from None


# --- hashes from tiles ---------------------------------------------------------------------------


class TileHashReader:
    """Merkle tree hashes and proofs of the tree of ``tree_size`` leaves, read from its tiles.

    Only tiles that a checkpoint of ``tree_size`` requires are read (full tiles, and the partial
    tiles of exactly that size). Recently read tiles are kept in a small LRU cache.
    """

    def __init__(self, reader: TileReader, tree_size: int, *, cache_tiles: int = 64) -> None:
        if tree_size < 0:
            raise ValueError("tree size must not be negative")
        self.reader = reader
        self.tree_size = tree_size
        self._cache: OrderedDict[TileRef, bytes] = OrderedDict()
        self._cache_tiles = cache_tiles

    def _tile(self, level: int, index: int) -> bytes:
        width = tile_width(level, index, self.tree_size)
        if width == 0:
            raise TileError(f"tile {level}/{index} does not exist in a tree of size {self.tree_size}")
        ref = TileRef(level, index, width)
        data = self._cache.get(ref)
        if data is None:
            data = read_tile_checked(self.reader, ref)
            self._cache[ref] = data
            if len(self._cache) > self._cache_tiles:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(ref)
        return data

    def subtree_hash(self, height: int, index: int) -> bytes:
        """MTH of the perfect subtree over leaves [index·2^height, (index+1)·2^height)."""
        if (index + 1) << height > self.tree_size:
            raise ValueError(f"subtree ({height}, {index}) is not complete in a tree of size {self.tree_size}")
        level, rest = divmod(height, TILE_HEIGHT)
        first = index << rest  # position of the subtree's first hash within level `level`
        tile_index, offset = divmod(first, TILE_WIDTH)
        data = self._tile(level, tile_index)
        return perfect_root(data[offset * HASH_SIZE: (offset + (1 << rest)) * HASH_SIZE])

    def range_hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a tree or proof range (see :func:`huzhu_verify.merkle.perfect_subtrees`)."""
        return fold_subtree_roots([self.subtree_hash(h, i) for h, i in perfect_subtrees(lo, hi)])

    def tree_hash(self, size: int | None = None) -> bytes:
        """Root of the tree of the first ``size`` leaves (default: the whole tree)."""
        size = self.tree_size if size is None else size
        if not 0 <= size <= self.tree_size:
            raise ValueError(f"size {size} is outside 0..{self.tree_size}")
        return self.range_hash(0, size) if size else EMPTY_ROOT

    def leaf_hash(self, index: int) -> bytes:
        return self.subtree_hash(0, index)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Inclusion proof of leaf ``index`` in the tree of ``size`` leaves (default: whole tree)."""
        size = self.tree_size if size is None else size
        if size > self.tree_size:
            raise ValueError(f"size {size} is larger than the tiles' tree ({self.tree_size})")
        return [self.range_hash(lo, hi) for lo, hi in inclusion_ranges(index, size)]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Consistency proof from ``old_size`` to ``new_size`` (default: the whole tree)."""
        new_size = self.tree_size if new_size is None else new_size
        if new_size > self.tree_size:
            raise ValueError(f"size {new_size} is larger than the tiles' tree ({self.tree_size})")
        return [self.range_hash(lo, hi) for lo, hi in consistency_ranges(old_size, new_size)]

    def entry(self, index: int) -> bytes:
        """Entry ``index`` from its entry bundle (unverified: hash it and prove its inclusion)."""
        if not 0 <= index < self.tree_size:
            raise ValueError(f"entry {index} is outside a tree of size {self.tree_size}")
        bundle, position = divmod(index, TILE_WIDTH)
        ref = TileRef.entries(bundle, tile_width(0, bundle, self.tree_size))
        return read_bundle_checked(self.reader, ref)[position]


# --- roots from the right edge, replay -------------------------------------------------------------


def edge_root(edge: Sequence[bytes | bytearray]) -> bytes:
    """Root of a tree from its right edge: ``edge[L]`` is the partial tile content at level L.

    Each ``edge[L]`` holds fewer than 256 hashes (concatenated); together they are the tree size in
    base 256. The root folds the perfect subtrees they contain, largest (highest level) first.
    """
    roots: list[bytes] = []
    for level in range(len(edge) - 1, -1, -1):
        hashes = bytes(edge[level])
        count = len(hashes) // HASH_SIZE
        if count >= TILE_WIDTH or len(hashes) % HASH_SIZE:
            raise ValueError(f"edge level {level} must hold fewer than {TILE_WIDTH} whole hashes")
        pos = 0
        for bit in range(TILE_HEIGHT - 1, -1, -1):
            if count >> bit & 1:
                roots.append(perfect_root(hashes[pos * HASH_SIZE: (pos + (1 << bit)) * HASH_SIZE]))
                pos += 1 << bit
    return fold_subtree_roots(roots)


@dataclass(frozen=True)
class ReplayReport:
    """What a replay checked."""

    tree_size: int
    entries: int
    entry_bytes: int
    tiles: int
    root_hash: bytes


def _first_difference(got: bytes, want: bytes) -> int:
    for i in range(0, min(len(got), len(want)), HASH_SIZE):
        if got[i: i + HASH_SIZE] != want[i: i + HASH_SIZE]:
            return i // HASH_SIZE
    return min(len(got), len(want)) // HASH_SIZE


def _check_tile(reader: TileReader, ref: TileRef, recomputed: bytes) -> None:
    """The published tile ``ref`` must be byte for byte the recomputed one."""
    published = read_tile_checked(reader, ref)
    if published != recomputed:
        i = _first_difference(published, recomputed)
        lo, hi = ref.leaf_range(i)
        what = f"the hash of leaf {lo}" if ref.level == 0 else f"the hash of leaves {lo}..{hi - 1}"
        raise TileError(
            f"{ref.path} does not match the entries: {what} is "
            f"{recomputed[i * HASH_SIZE:(i + 1) * HASH_SIZE].hex()} recomputed, "
            f"{published[i * HASH_SIZE:(i + 1) * HASH_SIZE].hex()} published"
        )


class _LevelChecker:
    """Collects recomputed hashes per level and checks each full tile against the published one."""

    def __init__(self, reader: TileReader) -> None:
        self.reader = reader
        self.pending: list[bytearray] = [bytearray()]
        self.done: list[int] = [0]
        self.tiles_checked = 0

    def check(self, ref: TileRef, recomputed: bytes) -> None:
        _check_tile(self.reader, ref, recomputed)
        self.tiles_checked += 1

    def add(self, level: int, node: bytes) -> None:
        """Add the MTH of a full tile of ``level - 1`` to ``level``; full tiles are checked and carried."""
        while len(self.pending) <= level:
            self.pending.append(bytearray())
            self.done.append(0)
        buf = self.pending[level]
        buf += node
        if len(buf) == _TILE_BYTES:
            full = bytes(buf)
            self.check(TileRef(level, self.done[level]), full)
            self.done[level] += 1
            buf.clear()
            self.add(level + 1, perfect_root(full))


def _leaf_hashes(data: bytes, width: int) -> bytes:
    """Split an entry bundle and hash each entry as an RFC 9162 leaf in the same pass (no list of
    entries is built); it must hold exactly ``width`` entries."""
    sha = _sha256
    out: list[bytes] = []
    append = out.append
    pos, end = 0, len(data)
    while pos < end:
        if pos + 2 > end:
            raise TileError(f"entry bundle ends inside the length prefix of entry {len(out)}")
        start = pos + 2
        pos = start + ((data[pos] << 8) | data[pos + 1])
        if pos > end:
            raise TileError(f"entry {len(out)} claims {pos - start} bytes but the bundle ends first")
        append(sha(b"\x00" + data[start:pos]).digest())
    if len(out) != width:
        raise TileError(f"the entry bundle holds {len(out)} entries, the tree needs {width}")
    return b"".join(out)


def _bundle_leaf_hashes(reader: TileReader, ref: TileRef) -> tuple[bytes, int]:
    """(leaf hashes, entry bytes) of bundle ``ref``, read and checked like :func:`read_bundle_checked`."""
    try:
        data = reader.read_tile(ref)
        return _leaf_hashes(data, ref.width), len(data) - 2 * ref.width
    except TileNotFoundError:
        if not ref.is_partial:
            raise
    except TileError as exc:
        raise TileError(f"{ref.path}: {exc}") from None
    entries = read_bundle_checked(reader, ref)  # the partial bundle is not published: the full one's first entries
    return b"".join([_sha256(b"\x00" + e).digest() for e in entries]), sum(map(len, entries))


REPLAY_CHUNK = TILE_WIDTH
"""Entry bundles replayed per unit of work (65,536 entries: one level-1 tile's worth)."""


def _replay_chunk(reader: TileReader, size: int, first: int, stop: int) -> tuple[bytes, bytes, int, int]:
    """Replay bundles ``first`` … ``stop - 1``: each entry hashed, each level-0 tile compared.

    Returns (the roots of the full level-0 tiles, concatenated; the partial level-0 tile's hashes;
    entry bytes; tiles compared). Runs in a worker process for a parallel replay."""
    roots: list[bytes] = []
    edge0 = b""
    entry_bytes = 0
    for bundle in range(first, stop):
        width = tile_width(0, bundle, size)
        hashes, nbytes = _bundle_leaf_hashes(reader, TileRef.entries(bundle, width))
        entry_bytes += nbytes
        _check_tile(reader, TileRef(0, bundle, width), hashes)
        if width == TILE_WIDTH:
            roots.append(perfect_root(hashes))
        else:
            edge0 = hashes
    return b"".join(roots), edge0, entry_bytes, stop - first


def _pool(workers: int, reader: TileReader) -> Executor | None:
    """A process pool for a parallel replay, or None (one worker, or a reader that cannot be sent)."""
    if workers <= 1:
        return None
    try:
        pickle.dumps(reader)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    return ProcessPoolExecutor(max_workers=workers)


def replay(
    reader: TileReader, checkpoint: Checkpoint, *, progress: Callable[[int], None] | None = None, workers: int = 1,
    chunk: int = REPLAY_CHUNK,
) -> ReplayReport:
    """Recompute the whole log from its entry bundles and compare everything published.

    Streams bundle by bundle (memory stays at a few tiles per level): every entry is hashed, every
    tile at every level is recomputed and compared byte for byte, and the root must equal the
    checkpoint's. Raises :class:`TileError` naming the first leaf or tile that differs.

    With ``workers`` > 1 the entry bundles and level-0 tiles are replayed by that many processes, in
    chunks of ``chunk`` bundles (default :data:`REPLAY_CHUNK`) whose results are taken in order (the first difference
    reported is still the first in the log); the levels above are recomputed here from their roots.
    """
    size = checkpoint.size
    levels = _LevelChecker(reader)
    entry_bytes = 0
    bundles = (size + TILE_WIDTH - 1) // TILE_WIDTH
    edge0 = b""
    firsts = range(0, bundles, chunk)
    stops = [min(first + chunk, bundles) for first in firsts]
    pool = _pool(workers, reader) if len(firsts) > 1 else None
    try:
        chunks: Iterable[tuple[bytes, bytes, int, int]] = (
            pool.map(_replay_chunk, repeat(reader), repeat(size), firsts, stops) if pool is not None
            else map(_replay_chunk, repeat(reader), repeat(size), firsts, stops))
        for (roots, partial, nbytes, checked), stop in zip(chunks, stops, strict=True):
            entry_bytes += nbytes
            levels.tiles_checked += checked
            for i in range(0, len(roots), HASH_SIZE):
                levels.add(1, roots[i: i + HASH_SIZE])
            if partial:
                edge0 = partial
            if progress is not None:
                progress(min(stop * TILE_WIDTH, size))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    edge = [edge0]
    for level in range(1, len(levels.pending)):
        pending = bytes(levels.pending[level])
        if pending:
            levels.check(TileRef(level, levels.done[level], len(pending) // HASH_SIZE), pending)
        edge.append(pending)
    root = edge_root(edge)
    if root != checkpoint.root_hash:
        raise TileError(
            f"the {size} published entries produce the root {root.hex()}, "
            f"but the checkpoint says {checkpoint.root_hash.hex()}"
        )
    return ReplayReport(size, size, entry_bytes, levels.tiles_checked, root)
