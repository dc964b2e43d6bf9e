"""C2SP tlog-witness as pure logic: request/response bodies, every status code of add-checkpoint,
the state stores (atomic compare-and-set, races), and the log's side of the exchange."""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from huzhu_verify.checkpoint import Checkpoint
from huzhu_verify.cosignature import CosignatureSigner, cosign, verify_cosignature
from huzhu_verify.errors import MalformedError, VerificationError
from huzhu_verify.merkle import EMPTY_ROOT, consistency_proof, leaf_hash, root_from_leaf_hashes
from huzhu_verify.note import Ed25519Signer, open_note, sign_note
from huzhu_verify.witness import (
    AddCheckpointRequest,
    HTTPWitnessEndpoint,
    JsonFileWitnessState,
    MemoryWitnessState,
    StateConflict,
    Witness,
    WitnessRecord,
    WitnessResponse,
    format_add_checkpoint,
    parse_add_checkpoint,
    parse_cosignature_response,
    request_cosignature,
)

ORIGIN = "huzhu.test/log"
LOG = Ed25519Signer(ORIGIN, hashlib.sha256(b"log").digest())
WITNESS_SEED = hashlib.sha256(b"w1").digest()
WITNESS_KEY = CosignatureSigner("witness.test/w1", WITNESS_SEED, clock=lambda: 1_700_000_000)
LEAVES = [leaf_hash(f"entry {i}".encode()) for i in range(64)]

SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)


def _signed(size: int, leaves: list[bytes] = LEAVES, signer: Ed25519Signer = LOG) -> bytes:
    return sign_note(Checkpoint(ORIGIN, size, root_from_leaf_hashes(leaves[:size])).to_text(), [signer])


def _body(old: int, size: int, leaves: list[bytes] = LEAVES, proof: list[bytes] | None = None,
          checkpoint: bytes | None = None) -> bytes:
    if proof is None:
        proof = consistency_proof(leaves[:size], old) if 0 < old < size else []
    return format_add_checkpoint(AddCheckpointRequest(old, tuple(proof), checkpoint or _signed(size, leaves)))


@pytest.fixture
def witness() -> Witness:
    return Witness(WITNESS_KEY, {ORIGIN: [LOG.verifier]}, MemoryWitnessState())


# --- bodies --------------------------------------------------------------------------------------


def test_the_spec_request_body_round_trips() -> None:
    request = parse_add_checkpoint(SPEC_REQUEST.encode())
    assert request.old_size == 20852014
    assert len(request.proof) == 4 and all(len(h) == 32 for h in request.proof)
    assert request.checkpoint.decode().startswith("example.com/behind-the-sofa\n20852163\n")
    assert format_add_checkpoint(request) == SPEC_REQUEST.encode()


@pytest.mark.parametrize(
    "body",
    [
        b"old 5\nexample.com\n",  # no blank line
        b"old 05\n\nx\n",  # leading zero
        b"old -1\n\nx\n",
        b"size 5\n\nx\n",
        b"old 5\nnot base64!\n\nx\n",
        b"old 5\n" + base64.b64encode(b"short") + b"\n\nx\n",
        b"old 5\n" + (base64.b64encode(bytes(32)) + b"\n") * 64 + b"\nx\n",  # 64 proof lines
    ],
)
def test_malformed_requests_are_400(body: bytes, witness: Witness) -> None:
    with pytest.raises(MalformedError):
        parse_add_checkpoint(body)
    assert witness.add_checkpoint(body).status == 400


def test_63_proof_lines_are_allowed() -> None:
    body = b"old 5\n" + (base64.b64encode(bytes(32)) + b"\n") * 63 + b"\nx\n"
    assert len(parse_add_checkpoint(body).proof) == 63


# --- add-checkpoint --------------------------------------------------------------------------------


def test_first_checkpoint_is_cosigned_and_remembered(witness: Witness) -> None:
    response = witness.add_checkpoint(_body(0, 10))
    assert (response.status, response.content_type) == (200, "text/plain; charset=utf-8")
    [sig] = parse_cosignature_response(response.body)
    text = Checkpoint(ORIGIN, 10, root_from_leaf_hashes(LEAVES[:10])).to_text()
    assert verify_cosignature(text, sig, WITNESS_KEY.verifier) == 1_700_000_000
    assert witness.state.get(ORIGIN).size == 10
    stored = witness.latest_checkpoint(ORIGIN)
    assert {s.name for s in open_note(stored, [LOG.verifier, WITNESS_KEY.verifier]).signatures} == {
        ORIGIN, "witness.test/w1"}


def test_an_extension_with_a_valid_proof_is_cosigned(witness: Witness) -> None:
    assert witness.add_checkpoint(_body(0, 10)).status == 200
    assert witness.add_checkpoint(_body(10, 37)).status == 200
    assert witness.add_checkpoint(_body(37, 37)).status == 200  # same tree again: fine
    assert witness.state.get(ORIGIN).size == 37


def test_unknown_origin_is_404(witness: Witness) -> None:
    other = Ed25519Signer("other.test/log", bytes(32))
    checkpoint = sign_note(Checkpoint("other.test/log", 1, LEAVES[0]).to_text(), [other])
    assert witness.add_checkpoint(_body(0, 1, checkpoint=checkpoint)).status == 404


def test_wrong_key_or_bad_signature_is_403(witness: Witness) -> None:
    impostor = Ed25519Signer.generate(ORIGIN)
    assert witness.add_checkpoint(_body(0, 5, checkpoint=_signed(5, signer=impostor))).status == 403
    forged = _signed(5).replace(b"\n5\n", b"\n6\n")  # text changed under a real signature
    assert witness.add_checkpoint(_body(0, 6, checkpoint=forged)).status == 403
    assert witness.state.get(ORIGIN) is None


def test_old_size_mismatch_is_409_with_the_witness_size(witness: Witness) -> None:
    witness.add_checkpoint(_body(0, 10))
    response = witness.add_checkpoint(_body(4, 20))
    assert (response.status, response.content_type, response.body) == (409, "text/x.tlog.size", b"10\n")


def test_old_size_larger_than_the_checkpoint_is_400(witness: Witness) -> None:
    witness.add_checkpoint(_body(0, 10))
    assert witness.add_checkpoint(_body(10, 8, proof=[])).status == 400


def test_rollback_is_refused(witness: Witness) -> None:
    witness.add_checkpoint(_body(0, 30))
    assert witness.add_checkpoint(_body(30, 20, proof=[])).status == 400
    assert witness.add_checkpoint(_body(0, 20)).status == 409
    assert witness.state.get(ORIGIN).size == 30


def test_fork_same_size_other_root_is_422(witness: Witness) -> None:
    witness.add_checkpoint(_body(0, 16))
    forked = list(LEAVES)
    forked[3] = leaf_hash(b"rewritten")
    response = witness.add_checkpoint(_body(16, 16, leaves=forked))
    assert response.status == 422 and "not an extension" in response.message
    assert witness.state.get(ORIGIN).root_hash == root_from_leaf_hashes(LEAVES[:16])


def test_non_extension_is_422(witness: Witness) -> None:
    witness.add_checkpoint(_body(0, 16))
    forked = list(LEAVES)
    forked[3] = leaf_hash(b"rewritten")
    assert witness.add_checkpoint(_body(16, 40, leaves=forked)).status == 422  # its own proof: wrong old root
    bogus = [hashlib.sha256(bytes([i])).digest() for i in range(6)]
    assert witness.add_checkpoint(_body(16, 40, proof=bogus)).status == 422
    assert witness.state.get(ORIGIN).size == 16


def test_empty_tree_rules_are_422(witness: Witness) -> None:
    bad_empty = sign_note(Checkpoint(ORIGIN, 0, LEAVES[0]).to_text(), [LOG])
    assert witness.add_checkpoint(_body(0, 0, checkpoint=bad_empty)).status == 422
    good_empty = sign_note(Checkpoint(ORIGIN, 0, EMPTY_ROOT).to_text(), [LOG])
    assert witness.add_checkpoint(_body(0, 0, checkpoint=good_empty)).status == 200
    assert witness.add_checkpoint(_body(0, 5, proof=[LEAVES[0]])).status == 422  # proof from 0 must be empty


def test_a_validly_signed_but_malformed_checkpoint_is_400(witness: Witness) -> None:
    note = sign_note(f"{ORIGIN}\n012\nnot a root\n", [LOG])
    assert witness.add_checkpoint(_body(0, 0, proof=[], checkpoint=note)).status == 400


class _StaleState(MemoryWitnessState):
    """Returns the record as it was before another request updated it (a lost race)."""

    def __init__(self) -> None:
        super().__init__()
        self.stale: WitnessRecord | None = None

    def get(self, origin: str) -> WitnessRecord | None:
        return self.stale if self.stale is not None else super().get(origin)


def test_a_request_that_loses_the_race_gets_409_and_never_rolls_back() -> None:
    state = _StaleState()
    witness = Witness(WITNESS_KEY, {ORIGIN: [LOG.verifier]}, state)
    assert witness.add_checkpoint(_body(0, 10)).status == 200
    state.stale = state.get(ORIGIN)
    state._records[ORIGIN] = WitnessRecord(20, root_from_leaf_hashes(LEAVES[:20]))  # request B won meanwhile
    response = witness.add_checkpoint(_body(10, 15))  # checked against the stale size 10
    state.stale = None
    assert response.status == 409
    assert state.get(ORIGIN).size == 20


def test_json_state_persists_and_compare_and_set_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "witness.json"
    state = JsonFileWitnessState(path)
    record = WitnessRecord(10, LEAVES[1], b"note\n")
    state.compare_and_set(ORIGIN, None, record)
    assert JsonFileWitnessState(path).get(ORIGIN) == record
    with pytest.raises(StateConflict):
        state.compare_and_set(ORIGIN, None, WitnessRecord(3, LEAVES[2]))
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    path.write_text("{not json")
    with pytest.raises(MalformedError):
        state.get(ORIGIN)


def test_concurrent_first_submissions_cosign_exactly_one(tmp_path: Path) -> None:
    witness = Witness(WITNESS_KEY, {ORIGIN: [LOG.verifier]}, JsonFileWitnessState(tmp_path / "w.json"))
    bodies = [_body(0, size) for size in range(5, 45, 5)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(bodies))

    def submit(body: bytes) -> None:
        barrier.wait()
        statuses.append(witness.add_checkpoint(body).status)

    threads = [threading.Thread(target=submit, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * (len(bodies) - 1)


# --- the log's side --------------------------------------------------------------------------------


def _prove(size: int):  # noqa: ANN202 - Callable[[int], list[bytes]]
    return lambda old: consistency_proof(LEAVES[:size], old)


def _checkpoint(size: int) -> Checkpoint:
    return Checkpoint(ORIGIN, size, root_from_leaf_hashes(LEAVES[:size]))


def test_request_cosignature_retries_once_after_409(witness: Witness) -> None:
    witness.add_checkpoint(_body(0, 12))
    sig = request_cosignature(witness, WITNESS_KEY.verifier, _signed(30), _checkpoint(30), old_size=0,
                              prove=_prove(30))
    assert sig.name == "witness.test/w1"
    assert witness.state.get(ORIGIN).size == 30


def test_request_cosignature_reports_refusals(witness: Witness) -> None:
    witness.add_checkpoint(_body(0, 40))
    with pytest.raises(VerificationError, match="larger than this checkpoint"):
        request_cosignature(witness, WITNESS_KEY.verifier, _signed(30), _checkpoint(30), old_size=30,
                            prove=_prove(30))
    forked = list(LEAVES)
    forked[0] = leaf_hash(b"x")
    fork_cp = Checkpoint(ORIGIN, 50, root_from_leaf_hashes(forked[:50]))
    fork_note = sign_note(fork_cp.to_text(), [LOG])
    with pytest.raises(VerificationError, match="HTTP 422"):
        request_cosignature(witness, WITNESS_KEY.verifier, fork_note, fork_cp, old_size=40,
                            prove=lambda old: consistency_proof(forked[:50], old))


class _LyingWitness:
    def add_checkpoint(self, body: bytes) -> WitnessResponse:
        same_key = CosignatureSigner("witness.test/w1", WITNESS_SEED, clock=lambda: 1)
        text = Checkpoint(ORIGIN, 1, LEAVES[0]).to_text()  # a cosignature over another checkpoint
        return WitnessResponse(200, "text/plain", cosign(text, same_key).line.encode())


def test_request_cosignature_checks_the_returned_cosignature() -> None:
    with pytest.raises(VerificationError, match="does not verify"):
        request_cosignature(_LyingWitness(), WITNESS_KEY.verifier, _signed(5), _checkpoint(5), old_size=0,
                            prove=_prove(5))


@pytest.fixture
def http_witness(witness: Witness) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            assert self.path == "/w/add-checkpoint"
            response = witness.add_checkpoint(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/w/"
    finally:
        server.shutdown()
        server.server_close()


def test_the_exchange_over_http(http_witness: str, witness: Witness) -> None:
    endpoint = HTTPWitnessEndpoint(http_witness)
    witness.add_checkpoint(_body(0, 8))
    conflict = endpoint.add_checkpoint(_body(0, 20))
    assert (conflict.status, conflict.content_type, conflict.body) == (409, "text/x.tlog.size", b"8\n")
    sig = request_cosignature(endpoint, WITNESS_KEY.verifier, _signed(20), _checkpoint(20), old_size=0,
                              prove=_prove(20))
    assert sig.key_hash == WITNESS_KEY.key_hash
