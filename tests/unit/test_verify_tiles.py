"""C2SP tlog-tiles in huzhu_verify: paths, bundles, readers (directory and HTTP), hashes and proofs
from tiles (property-tested against proofs from the full leaf list), fallback, replay."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huzhu.transparency import merkle as server_merkle
from huzhu.transparency.tiles import TileLogWriter
from huzhu_verify.checkpoint import open_checkpoint
from huzhu_verify.errors import MalformedError, ProofError, TileError, TileNotFoundError
from huzhu_verify.merkle import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion
from huzhu_verify.note import Ed25519Signer
from huzhu_verify.tiles import (
    DirectoryTileReader,
    HTTPTileReader,
    TileHashReader,
    TileRef,
    edge_root,
    format_entry_bundle,
    format_tile_index,
    open_tile_reader,
    parse_entry_bundle,
    parse_tile_path,
    replay,
    tile_refs_for_tree,
)

SIGNER = Ed25519Signer(b"huzhu.test/log".decode(), bytes(range(32)))


def _entry(i: int) -> bytes:
    return json.dumps({"kind": "case_shared", "seq": i, "subject": f"C{i:08d}"}).encode()


def _publish(directory: Path, sizes: list[int]) -> list[bytes]:
    """Publish the log at each size in turn; returns all leaf hashes."""
    with TileLogWriter(directory, SIGNER, durable=False) as writer:
        for size in sizes:
            writer.append(_entry(i) for i in range(writer.size, size))
            writer.publish()
    return [leaf_hash(_entry(i)) for i in range(sizes[-1])]


# --- paths -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "text"),
    [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067"),
     (1_000_000_000, "x001/x000/x000/000")],
)
def test_tile_index_groups(index: int, text: str) -> None:
    assert format_tile_index(index) == text


def test_tile_paths_of_the_spec() -> None:
    assert TileRef(0, 1234067).path == "tile/0/x001/x234/067"
    assert TileRef(2, 1, 17).path == "tile/2/001.p/17"
    assert TileRef.entries(1234067, 3).path == "tile/entries/x001/x234/067.p/3"
    for ref in (TileRef(0, 1234067), TileRef(63, 5, 255), TileRef.entries(0, 1), TileRef.entries(1000)):
        assert parse_tile_path(ref.path) == ref


@pytest.mark.parametrize(
    "path",
    ["tile/0/1234067", "tile/0/x001/234/067", "tile/0/x000/001", "tile/00/000", "tile/64/000",
     "tile/-1/000", "tile/0/000.p/256", "tile/0/000.p/0", "tile/0/000.p/07", "tile/0/00a", "tiles/0/000",
     "tile/0", "tile/data/000", "tile/0/000/", "tile/0/000.p/"],
)
def test_non_canonical_tile_paths_are_refused(path: str) -> None:
    with pytest.raises(MalformedError):
        parse_tile_path(path)


def test_which_tiles_a_tree_has_matches_the_spec_examples() -> None:
    refs = list(tile_refs_for_tree(70_000, entries=False))
    level0 = [r for r in refs if r.level == 0]
    assert len([r for r in level0 if not r.is_partial]) == 273
    assert [r for r in level0 if r.is_partial] == [TileRef(0, 273, 112)]
    assert [r for r in refs if r.level == 1] == [TileRef(1, 0), TileRef(1, 1, 17)]
    assert [r for r in refs if r.level == 2] == [TileRef(2, 0, 1)]
    assert list(tile_refs_for_tree(256, entries=False)) == [TileRef(0, 0), TileRef(1, 0, 1)]
    assert list(tile_refs_for_tree(0)) == []


def test_which_hashes_a_tile_holds() -> None:
    assert TileRef(0, 3).leaf_range(5) == (3 * 256 + 5, 3 * 256 + 6)
    assert TileRef(1, 2).leaf_range(7) == ((2 * 256 + 7) * 256, (2 * 256 + 8) * 256)
    assert TileRef(2, 0, 1).leaf_range(0) == (0, 65536)


# --- entry bundles ---------------------------------------------------------------------------------


def test_entry_bundles_are_uint16_length_prefixed() -> None:
    entries = [b"", b"a", b"\x00" * 300, b"z" * 65535]
    data = format_entry_bundle(entries)
    assert data[:5] == b"\x00\x00\x00\x01a"
    assert data[5:7] == (300).to_bytes(2, "big")
    assert parse_entry_bundle(data, 4) == entries
    with pytest.raises(MalformedError):
        format_entry_bundle([b"x" * 65536])
    with pytest.raises(TileError):
        parse_entry_bundle(data[:-1])
    with pytest.raises(TileError):
        parse_entry_bundle(data + b"\x00")
    with pytest.raises(TileError, match="holds 4 entries"):
        parse_entry_bundle(data, 5)


# --- hashes and proofs from tiles ------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes], list[int]]:
    """A log published at several sizes, the last one with three tile levels."""
    directory = tmp_path_factory.mktemp("big-log")
    sizes = [1, 255, 256, 257, 4000, 65535, 65536, 65537, 70_000]
    return directory, _publish(directory, sizes), sizes


def test_edge_root_is_the_tree_root(big_log: tuple[Path, list[bytes], list[int]]) -> None:
    directory, leaves, sizes = big_log
    reader = DirectoryTileReader(directory)
    for size in sizes:
        edge = []
        level = 0
        while level == 0 or size >> (8 * level):
            width = (size >> (8 * level)) % 256
            edge.append(reader.read_tile(TileRef(level, size >> (8 * (level + 1)), width)) if width else b"")
            level += 1
        assert edge_root(edge) == server_merkle.root_from_leaf_hashes(leaves[:size])
    assert edge_root([b""]) == EMPTY_ROOT


def test_tree_hash_of_every_published_size(big_log: tuple[Path, list[bytes], list[int]]) -> None:
    directory, leaves, sizes = big_log
    reader = DirectoryTileReader(directory)
    for size in sizes:  # each size reads only its own partial tiles
        assert TileHashReader(reader, size).tree_hash() == server_merkle.root_from_leaf_hashes(leaves[:size])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_proofs_from_tiles_equal_proofs_from_the_leaf_list(
    big_log: tuple[Path, list[bytes], list[int]], data: st.DataObject
) -> None:
    directory, leaves, sizes = big_log
    size = data.draw(st.sampled_from(sizes))
    tiles = TileHashReader(DirectoryTileReader(directory), size)
    root = server_merkle.root_from_leaf_hashes(leaves[:size])
    index = data.draw(st.integers(0, size - 1))
    proof = tiles.inclusion_proof(index)
    assert proof == server_merkle.inclusion_proof(leaves[:size], index)
    verify_inclusion(leaves[index], index, size, proof, root)
    old = data.draw(st.integers(1, size))
    cproof = tiles.consistency_proof(old)
    assert cproof == server_merkle.consistency_proof(leaves[:size], old)
    verify_consistency(old, size, cproof, server_merkle.root_from_leaf_hashes(leaves[:old]), root)
    assert tiles.tree_hash(old) == server_merkle.root_from_leaf_hashes(leaves[:old])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 1200), min_size=1, max_size=4).map(lambda xs: sorted(set(xs))), st.data())
def test_random_publication_sizes_give_the_list_proofs(sizes: list[int], data: st.DataObject) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        leaves = _publish(directory, sizes)
        reader = DirectoryTileReader(directory)
        for size in sizes:
            tiles = TileHashReader(reader, size)
            i = data.draw(st.integers(0, size - 1))
            m = data.draw(st.integers(1, size))
            assert tiles.inclusion_proof(i) == server_merkle.inclusion_proof(leaves[:size], i)
            assert tiles.consistency_proof(m) == server_merkle.consistency_proof(leaves[:size], m)
            assert tiles.entry(i) == _entry(i)


def test_missing_partial_tile_falls_back_to_the_full_tile(tmp_path: Path) -> None:
    leaves = _publish(tmp_path, [300, 600])
    (tmp_path / "tile/0/001.p/44").unlink()  # the partial of size 300, now inside full tile 001
    tiles = TileHashReader(DirectoryTileReader(tmp_path), 300)
    assert tiles.tree_hash() == server_merkle.root_from_leaf_hashes(leaves[:300])
    (tmp_path / "tile/0/001").unlink()
    with pytest.raises(TileNotFoundError, match="neither"):
        TileHashReader(DirectoryTileReader(tmp_path), 300).tree_hash()


def test_a_tile_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    _publish(tmp_path, [300])
    (tmp_path / "tile/0/001.p/44").write_bytes(b"\x00" * 43 * 32)
    with pytest.raises(TileError, match="bytes"):
        TileHashReader(DirectoryTileReader(tmp_path), 300).tree_hash()


def test_a_tampered_tile_gives_a_proof_that_fails(tmp_path: Path) -> None:
    leaves = _publish(tmp_path, [1000])
    path = tmp_path / "tile/0/000"  # holds leaf 1, the first hash of leaf 0's inclusion proof
    data = bytearray(path.read_bytes())
    data[32] ^= 1
    path.write_bytes(bytes(data))
    tiles = TileHashReader(DirectoryTileReader(tmp_path), 1000)
    root = server_merkle.root_from_leaf_hashes(leaves)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[0], 0, 1000, tiles.inclusion_proof(0), root)
    verify_inclusion(leaves[300], 300, 1000, tiles.inclusion_proof(300), root)  # untouched tiles still prove


# --- replay ----------------------------------------------------------------------------------------


def _checkpoint(directory: Path):  # noqa: ANN202 - Checkpoint
    return open_checkpoint((directory / "checkpoint").read_bytes(), [SIGNER.verifier]).checkpoint


# Each replay check in one process, and in two worker processes over chunks of one bundle (so the
# chunks' results are put back together in order and the first difference is still named).
MODES = pytest.mark.parametrize("mode", [{}, {"workers": 2, "chunk": 1}], ids=["one-process", "two-workers"])


@MODES
def test_replay_checks_every_entry_tile_and_the_root(big_log: tuple[Path, list[bytes], list[int]], mode: dict[str, int]) -> None:
    directory, leaves, _ = big_log
    report = replay(DirectoryTileReader(directory), _checkpoint(directory), **mode)
    assert report.entries == 70_000
    assert report.tiles == 274 + 2 + 1
    assert report.root_hash == server_merkle.root_from_leaf_hashes(leaves)


@MODES
def test_replay_names_the_edited_entry(tmp_path: Path, mode: dict[str, int]) -> None:
    _publish(tmp_path, [600])
    bundle = tmp_path / "tile/entries/001"
    entries = parse_entry_bundle(bundle.read_bytes())
    entries[9] = entries[9].replace(b"C", b"X")
    bundle.write_bytes(format_entry_bundle(entries))
    with pytest.raises(TileError, match="leaf 265 "):
        replay(DirectoryTileReader(tmp_path), _checkpoint(tmp_path), **mode)


@MODES
def test_replay_catches_a_consistent_forgery_of_entries_and_level0_tile(tmp_path: Path, mode: dict[str, int]) -> None:
    """Entries and their level-0 tile both rewritten: the level-1 tile no longer matches."""
    _publish(tmp_path, [70_000])
    bundle = tmp_path / "tile/entries/005"
    entries = parse_entry_bundle(bundle.read_bytes())
    entries[0] = b"forged"
    bundle.write_bytes(format_entry_bundle(entries))
    (tmp_path / "tile/0/005").write_bytes(b"".join(leaf_hash(e) for e in entries))
    with pytest.raises(TileError, match="tile/1/000 does not match"):
        replay(DirectoryTileReader(tmp_path), _checkpoint(tmp_path), **mode)


@MODES
def test_replay_catches_a_root_that_is_not_the_checkpoint(tmp_path: Path, mode: dict[str, int]) -> None:
    """Everything recomputed for a changed entry (top partial tile too) but the checkpoint kept."""
    _publish(tmp_path, [100])
    entries = parse_entry_bundle((tmp_path / "tile/entries/000.p/100").read_bytes())
    entries[3] = b"changed"
    (tmp_path / "tile/entries/000.p/100").write_bytes(format_entry_bundle(entries))
    (tmp_path / "tile/0/000.p/100").write_bytes(b"".join(leaf_hash(e) for e in entries))
    with pytest.raises(TileError, match="checkpoint says"):
        replay(DirectoryTileReader(tmp_path), _checkpoint(tmp_path), **mode)


@MODES
def test_replay_needs_every_bundle(tmp_path: Path, mode: dict[str, int]) -> None:
    _publish(tmp_path, [600])
    (tmp_path / "tile/entries/000").unlink()
    with pytest.raises(TileNotFoundError):
        replay(DirectoryTileReader(tmp_path), _checkpoint(tmp_path), **mode)


# --- HTTP ----------------------------------------------------------------------------------------


class _GzipEntriesHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the directory; entry bundles gzip-compressed without negotiation (allowed by the spec)."""

    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).requests.append(self.path)
        if self.path.startswith("/log/tile/entries/"):
            path = Path(self.directory) / self.path.removeprefix("/log/")
            if not path.is_file():
                self.send_error(404)
                return
            body = gzip.compress(path.read_bytes())
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.path = self.path.removeprefix("/log")
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        return


@pytest.fixture
def served_log(tmp_path: Path) -> Iterator[tuple[str, list[bytes]]]:
    leaves = _publish(tmp_path, [700])
    handler = lambda *a, **k: _GzipEntriesHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/log", leaves
    finally:
        server.shutdown()
        server.server_close()


def test_http_reader_replays_and_proves(served_log: tuple[str, list[bytes]]) -> None:
    url, leaves = served_log
    reader = open_tile_reader(url)
    assert isinstance(reader, HTTPTileReader)
    checkpoint = open_checkpoint(reader.read_checkpoint(), [SIGNER.verifier]).checkpoint
    assert replay(reader, checkpoint).entries == 700
    tiles = TileHashReader(reader, checkpoint.size)
    verify_inclusion(leaves[512], 512, 700, tiles.inclusion_proof(512), checkpoint.root_hash)
    assert tiles.entry(699) == _entry(699)  # through gzip
    assert any(p.startswith("/log/tile/entries/") for p in _GzipEntriesHandler.requests)
    with pytest.raises(TileNotFoundError):
        reader.read_tile(TileRef(0, 99))


def test_http_reader_refuses_other_schemes() -> None:
    with pytest.raises(MalformedError):
        HTTPTileReader("ftp://example.com/log")
    assert isinstance(open_tile_reader("/some/dir"), DirectoryTileReader)


@MODES
def test_replay_names_the_first_of_two_edits_and_a_swap(tmp_path: Path, mode: dict[str, int]) -> None:
    """Edits in two bundles (replayed by different workers): the first in the log is named; entries
    swapped across two bundles are caught too."""
    _publish(tmp_path, [2000])
    for name, i in (("003", 7), ("006", 1)):
        bundle = tmp_path / "tile/entries" / name
        entries = parse_entry_bundle(bundle.read_bytes())
        entries[i] = entries[i].replace(b"C", b"X")
        bundle.write_bytes(format_entry_bundle(entries))
    with pytest.raises(TileError, match="leaf 775 "):
        replay(DirectoryTileReader(tmp_path), _checkpoint(tmp_path), **mode)
    _publish(tmp_path / "swap", [2000])
    a, b = (tmp_path / "swap/tile/entries/001"), (tmp_path / "swap/tile/entries/004")
    first, second = parse_entry_bundle(a.read_bytes()), parse_entry_bundle(b.read_bytes())
    first[0], second[0] = second[0], first[0]
    a.write_bytes(format_entry_bundle(first))
    b.write_bytes(format_entry_bundle(second))
    with pytest.raises(TileError, match="leaf 256 "):
        replay(DirectoryTileReader(tmp_path / "swap"), _checkpoint(tmp_path / "swap"), **mode)
