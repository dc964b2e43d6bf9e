"""C2SP tlog-checkpoint bodies (strict parsing, formatting) and tlog-cosignature v1 (Ed25519)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from huzhu_verify.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from huzhu_verify.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    cosign,
    cosignature_timestamp,
    cosigned_message,
    generate_cosigner_key,
    verify_cosignature,
)
from huzhu_verify.errors import InvalidSignatureError, MalformedError, UnknownLogError, UnverifiedNoteError
from huzhu_verify.note import Ed25519Signer, key_hash, open_note, parse_note, sign_note

# The example body of the tlog-checkpoint specification.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")


def test_parse_and_format_the_spec_example() -> None:
    cp = parse_checkpoint(SPEC_BODY)
    assert cp == Checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    assert cp.to_text() == SPEC_BODY


def test_extension_lines_round_trip() -> None:
    text = SPEC_BODY + "ext one\nanother extension\n"
    cp = parse_checkpoint(text)
    assert cp.extensions == ("ext one", "another extension")
    assert cp.to_text() == text


def test_empty_tree() -> None:
    empty = hashlib.sha256(b"").digest()
    cp = parse_checkpoint(f"log\n0\n{base64.b64encode(empty).decode()}\n")
    assert (cp.size, cp.root_hash) == (0, empty)


@pytest.mark.parametrize(
    "text",
    [
        SPEC_BODY[:-1],  # no final newline
        "example.com/behind-the-sofa\n20852163\n",  # two lines
        "\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # empty origin
        "o\n020852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # leading zero
        "o\n+20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # sign
        "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # negative
        "o\n20 852 163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # spaces
        "o\n9223372036854775808\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # 2^63
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",  # unpadded
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",  # non-canonical trailing bits
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n",  # 30 bytes
        "o\n1\n" + base64.b64encode(bytes(33)).decode() + "\n",  # 33 bytes
        SPEC_BODY + "\n",  # empty extension line
    ],
)
def test_strict_parsing_refuses(text: str) -> None:
    with pytest.raises(MalformedError):
        parse_checkpoint(text)


def test_largest_size_is_accepted() -> None:
    assert parse_checkpoint(f"o\n{2**63 - 1}\n{base64.b64encode(ROOT).decode()}\n").size == 2**63 - 1


def test_open_checkpoint_checks_signature_and_origin() -> None:
    log = Ed25519Signer.generate("example.com/behind-the-sofa")
    signed = sign_note(SPEC_BODY, [log])
    assert open_checkpoint(signed, [log.verifier]).checkpoint.size == 20852163
    with pytest.raises(UnknownLogError):
        open_checkpoint(signed, [log.verifier], origin="example.com/other")
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(signed, [Ed25519Signer.generate("example.com/behind-the-sofa").verifier])


# --- cosignatures ----------------------------------------------------------------------------------


def _witness(t: int = 1679315147) -> CosignatureSigner:
    return CosignatureSigner(
        "witness.example.com/w1", hashlib.sha256(b"test witness seed").digest(), clock=lambda: t
    )


def test_cosigned_message_is_the_spec_example_text() -> None:
    assert cosigned_message(SPEC_BODY, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n"
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


def test_cosignature_key_id_uses_type_0x04_not_0x01() -> None:
    w = _witness()
    assert w.key_hash == key_hash(w.name, b"\x04" + w.public_key)
    assert w.key_hash != key_hash(w.name, b"\x01" + w.public_key)
    assert w.verifier.vkey.split("+")[2].startswith(base64.b64encode(b"\x04" + w.public_key).decode()[:2])


def test_cosignature_layout_timestamp_then_ed25519_over_the_spec_message() -> None:
    w = _witness()
    sig = cosign(SPEC_BODY, w)
    raw = base64.b64decode(sig.base64)
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[:4], "big") == w.key_hash
    assert int.from_bytes(raw[4:12], "big") == 1679315147 == cosignature_timestamp(sig)
    # Independent check with the raw Ed25519 primitive over the message the spec defines.
    Ed25519PublicKey.from_public_bytes(w.public_key).verify(raw[12:], cosigned_message(SPEC_BODY, 1679315147))
    assert verify_cosignature(SPEC_BODY, sig, w.verifier) == 1679315147


def test_cosignature_over_another_checkpoint_or_time_fails() -> None:
    w = _witness()
    sig = cosign(SPEC_BODY, w)
    with pytest.raises(InvalidSignatureError):
        verify_cosignature(SPEC_BODY.replace("20852163", "20852164"), sig, w.verifier)
    raw = bytearray(base64.b64decode(sig.base64))
    raw[11] ^= 1  # claim another time
    forged = type(sig)(sig.name, sig.key_hash, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(InvalidSignatureError):
        verify_cosignature(SPEC_BODY, forged, w.verifier)


def test_timestamps_beyond_2_63_are_refused() -> None:
    w = _witness()
    with pytest.raises(MalformedError):
        cosigned_message(SPEC_BODY, 2**63)
    raw = bytearray(base64.b64decode(cosign(SPEC_BODY, w).base64))
    raw[4] |= 0x80
    assert not w.verifier.verify(SPEC_BODY.encode(), bytes(raw[4:]))


def test_cosignatures_open_as_note_signatures_next_to_the_log_signature() -> None:
    log = Ed25519Signer.generate("example.com/behind-the-sofa")
    w = _witness()
    signed = sign_note(SPEC_BODY, [log, w])
    note = open_note(signed, [log.verifier, w.verifier])
    assert {s.name for s in note.signatures} == {log.name, w.name}
    text, sigs = parse_note(signed)
    assert text == SPEC_BODY and len(sigs) == 2


def test_cosigner_keys_round_trip_and_refuse_plain_ed25519_keys() -> None:
    skey, vkey = generate_cosigner_key("w.example/1")
    signer = CosignatureSigner.from_skey(skey, clock=lambda: 1)
    assert signer.verifier.vkey == vkey
    assert CosignatureVerifier.from_vkey(vkey).key_hash == signer.key_hash
    plain = Ed25519Signer.generate("w.example/1")
    with pytest.raises(MalformedError):
        CosignatureSigner.from_skey(plain.skey)
    with pytest.raises(MalformedError):
        CosignatureVerifier.from_vkey(plain.verifier.vkey)


def test_a_witness_never_signs_time_zero() -> None:
    with pytest.raises(MalformedError):
        cosign(SPEC_BODY, _witness(t=0))
