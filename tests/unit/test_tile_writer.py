"""huzhu.transparency.tiles.TileLogWriter: the files it publishes follow the tlog-tiles definition,
re-publishing writes only what changed, published files are immutable, the checkpoint comes last."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import huzhu.transparency.tiles as writer_module
from huzhu.transparency import merkle as server_merkle
from huzhu.transparency.tiles import ImmutableTileConflict, TileLogWriter, WitnessPeer
from huzhu_verify.checkpoint import open_checkpoint
from huzhu_verify.cosignature import CosignatureSigner
from huzhu_verify.errors import TileError, UnverifiedNoteError
from huzhu_verify.merkle import leaf_hash
from huzhu_verify.note import Ed25519Signer
from huzhu_verify.policy import Policy
from huzhu_verify.tiles import DirectoryTileReader, TileRef, format_entry_bundle, replay, tile_refs_for_tree
from huzhu_verify.witness import MemoryWitnessState, Witness

SIGNER = Ed25519Signer("huzhu.test/log", hashlib.sha256(b"log key").digest())


def _entry(i: int) -> bytes:
    return json.dumps({"kind": "share", "seq": i, "fen": 300 - i % 7}).encode()


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _expected_tile(leaves: list[bytes], ref: TileRef) -> bytes:
    """A tile straight from the tlog-tiles definition: hash i is MTH(D[(N·256+i)·256^L : …])."""
    return b"".join(server_merkle.root_from_leaf_hashes(leaves[slice(*ref.leaf_range(i))]) for i in range(ref.width))


def test_published_files_follow_the_tlog_tiles_definition(tmp_path: Path) -> None:
    size = 70_000
    with TileLogWriter(tmp_path, SIGNER, durable=False) as writer:
        for stop in (1, 256, 5000, 65_536, size):
            writer.append(_entry(i) for i in range(writer.size, stop))
        publication = writer.publish()
    leaves = [leaf_hash(_entry(i)) for i in range(size)]
    files = _files(tmp_path)
    expected_refs = list(tile_refs_for_tree(size))
    assert set(files) == {ref.path for ref in expected_refs} | {"checkpoint"}
    for ref in expected_refs:
        if ref.is_entries:
            lo = ref.index * 256
            assert files[ref.path] == format_entry_bundle(_entry(i) for i in range(lo, lo + ref.width))
        else:
            assert files[ref.path] == _expected_tile(leaves, ref), ref.path
    signed = open_checkpoint(files["checkpoint"], [SIGNER.verifier])
    assert signed.checkpoint.size == size
    assert signed.checkpoint.root_hash == server_merkle.root_from_leaf_hashes(leaves)
    assert publication.note == files["checkpoint"]


def test_republishing_writes_only_new_tiles_and_the_checkpoint(tmp_path: Path) -> None:
    with TileLogWriter(tmp_path, SIGNER, durable=False) as writer:
        writer.append(_entry(i) for i in range(1000))
        writer.publish()
    before = {p: (tmp_path / p).stat().st_mtime_ns for p in _files(tmp_path)}
    with TileLogWriter(tmp_path, SIGNER, durable=False) as writer:
        writer.append(_entry(i) for i in range(1000, 1100))
        publication = writer.publish()
    after = _files(tmp_path)
    new = set(after) - set(before)
    assert new == {"tile/entries/003", "tile/0/003", "tile/entries/004.p/76", "tile/0/004.p/76", "tile/1/000.p/4"}
    changed = {p for p in before if p != "checkpoint" and (tmp_path / p).stat().st_mtime_ns != before[p]}
    assert changed == set()  # every earlier tile untouched (old partials stay for old checkpoints)
    assert publication.previous_size == 1000 and publication.checkpoint.size == 1100


def test_reopening_and_appending_in_pieces_equals_writing_at_once(tmp_path: Path) -> None:
    at_once, pieces = tmp_path / "a", tmp_path / "b"
    with TileLogWriter(at_once, SIGNER, durable=False) as writer:
        writer.append(_entry(i) for i in range(3000))
        writer.publish()
    for stop in (1, 2, 255, 256, 257, 511, 512, 2999, 3000):
        with TileLogWriter(pieces, SIGNER) as writer:
            writer.append(_entry(i) for i in range(writer.size, stop))
            writer.publish()
    full_tiles_and_last = {p: d for p, d in _files(pieces).items() if ".p/" not in p or p in _files(at_once)}
    assert full_tiles_and_last == _files(at_once)


def test_published_tiles_are_immutable(tmp_path: Path) -> None:
    (tmp_path / "tile/0").mkdir(parents=True)
    (tmp_path / "tile/0/000").write_bytes(b"\x00" * 8192)  # something else already published there
    with TileLogWriter(tmp_path, SIGNER, durable=False) as writer:
        with pytest.raises(ImmutableTileConflict, match="tile/0/000"):
            writer.append(_entry(i) for i in range(256))


def test_a_damaged_directory_is_refused(tmp_path: Path) -> None:
    with TileLogWriter(tmp_path, SIGNER, durable=False) as writer:
        writer.append(_entry(i) for i in range(300))
        writer.publish()
    (tmp_path / "tile/0/001.p/44").write_bytes(b"\x01" * 44 * 32)
    with pytest.raises(TileError, match="do not hash to the root"):
        TileLogWriter(tmp_path, SIGNER)


def test_a_checkpoint_by_another_key_is_refused(tmp_path: Path) -> None:
    with TileLogWriter(tmp_path, SIGNER, durable=False) as writer:
        writer.publish()
    with pytest.raises(UnverifiedNoteError):
        TileLogWriter(tmp_path, Ed25519Signer.generate("huzhu.test/log"))


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    with TileLogWriter(tmp_path, SIGNER):
        with pytest.raises(TileError, match="another writer"):
            TileLogWriter(tmp_path, SIGNER)
    TileLogWriter(tmp_path, SIGNER).close()  # released


def test_entries_must_fit_a_bundle_and_modes_do_not_mix(tmp_path: Path) -> None:
    with TileLogWriter(tmp_path / "a", SIGNER) as writer:
        with pytest.raises(TileError, match="65535"):
            writer.append([b"x" * 65536])
        with pytest.raises(TileError):
            writer.append_leaf_hashes([bytes(32)])
    with TileLogWriter(tmp_path / "b", SIGNER, entry_bundles=False) as writer:
        with pytest.raises(TileError):
            writer.append([b"entry"])
        writer.append_leaf_hashes(leaf_hash(_entry(i)) for i in range(300))
        checkpoint = writer.publish().checkpoint
    assert checkpoint.root_hash == server_merkle.root_from_leaf_hashes([leaf_hash(_entry(i)) for i in range(300)])
    assert not (tmp_path / "b/tile/entries").exists()


def test_the_checkpoint_is_written_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with TileLogWriter(tmp_path, SIGNER) as writer:
        writer.append(_entry(i) for i in range(100))
        writer.publish()
    old = (tmp_path / "checkpoint").read_bytes()

    def crash(*args: object, **kwargs: object) -> bytes:
        raise OSError("disk gone while signing")

    monkeypatch.setattr(writer_module, "sign_note", crash)
    with TileLogWriter(tmp_path, SIGNER) as writer:
        writer.append(_entry(i) for i in range(100, 700))
        with pytest.raises(OSError):
            writer.publish()
    assert (tmp_path / "checkpoint").read_bytes() == old  # readers still see the last good tree
    assert (tmp_path / "tile/0/001").exists()  # tiles beyond it were written first
    monkeypatch.undo()
    with TileLogWriter(tmp_path, SIGNER) as writer:  # resumes from the checkpoint; rewrites are identical
        assert writer.size == 100
        writer.append(_entry(i) for i in range(100, 700))
        checkpoint = writer.publish().checkpoint
    assert replay(DirectoryTileReader(tmp_path), checkpoint).entries == 700


def test_publish_collects_witness_cosignatures(tmp_path: Path) -> None:
    bank = CosignatureSigner("bank.example/witness", hashlib.sha256(b"bank").digest(), clock=lambda: 1_700_000_000)
    ngo = CosignatureSigner("ngo.example/witness", hashlib.sha256(b"ngo").digest(), clock=lambda: 1_700_000_001)
    witnesses = {
        name: Witness(signer, {SIGNER.name: [SIGNER.verifier]}, MemoryWitnessState())
        for name, signer in (("bank", bank), ("ngo", ngo))
    }
    peers = [WitnessPeer(witnesses["bank"], bank.verifier), WitnessPeer(witnesses["ngo"], ngo.verifier)]
    policy = Policy.k_of_n(SIGNER.verifier.vkey, {"bank": bank.verifier.vkey, "ngo": ngo.verifier.vkey}, 2)
    with TileLogWriter(tmp_path, SIGNER, durable=False) as writer:
        for stop in (10, 500, 501):
            writer.append(_entry(i) for i in range(writer.size, stop))
            publication = writer.publish(witnesses=peers)
            assert publication.cosigned_by == ("bank.example/witness", "ngo.example/witness")
            assert publication.witness_failures == ()
            verified = policy.verify_checkpoint((tmp_path / "checkpoint").read_bytes())
            assert verified.cosigners == {"bank": 1_700_000_000, "ngo": 1_700_000_001}
    assert witnesses["bank"].state.get(SIGNER.name).size == 501


def test_a_witness_that_is_behind_is_caught_up_after_its_409(tmp_path: Path) -> None:
    bank = CosignatureSigner("bank.example/witness", hashlib.sha256(b"bank").digest(), clock=lambda: 5)
    witness = Witness(bank, {SIGNER.name: [SIGNER.verifier]}, MemoryWitnessState())
    with TileLogWriter(tmp_path, SIGNER, durable=False) as writer:
        writer.append(_entry(i) for i in range(40))
        writer.publish()  # published without the witness: it still has size 0
        writer.append(_entry(i) for i in range(40, 90))
        publication = writer.publish(witnesses=[WitnessPeer(witness, bank.verifier)])
    assert publication.cosigned_by == ("bank.example/witness",)
    assert witness.state.get(SIGNER.name).size == 90
