"""C2SP signed-note: Go's reference vectors (sumdb/note note_test.go), the spec's example, every
malformed form, and the opening rules (unknown keys skipped, known keys must verify)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from huzhu_verify.errors import (
    AmbiguousKeyError,
    InvalidSignatureError,
    MalformedError,
    UnverifiedNoteError,
)
from huzhu_verify.note import (
    Ed25519Signer,
    Ed25519Verifier,
    add_signature_lines,
    ed25519_verifier_key,
    generate_key,
    key_hash,
    new_signer,
    new_verifier,
    open_note,
    parse_note,
    sign_note,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "signed-note"
GO = json.loads((DATA / "go-note-vectors.json").read_text(encoding="utf-8"))
C2SP = json.loads((DATA / "c2sp-example.json").read_text(encoding="utf-8"))

PETER_SKEY = GO["keys"]["PeterNeumann"]["signer"]
PETER_VKEY = GO["keys"]["PeterNeumann"]["verifier"]
ENOCH_VKEY = GO["keys"]["EnochRoot"]["verifier"]
TEXT: str = GO["text"]
PETER_SIG: str = GO["signature_lines"]["PeterNeumann"]
ENOCH_SIG: str = GO["signature_lines"]["EnochRoot"]


@pytest.fixture
def peter() -> Ed25519Verifier:
    return new_verifier(PETER_VKEY)


@pytest.fixture
def enoch() -> Ed25519Verifier:
    return new_verifier(ENOCH_VKEY)


# --- keys ------------------------------------------------------------------------------------------


def test_key_ids_are_the_spec_hash_of_name_type_and_key() -> None:
    for vkey in (PETER_VKEY, ENOCH_VKEY, C2SP["verifier"]):
        name, hash16, key64 = vkey.split("+", 2)
        typed = base64.b64decode(key64)
        expected = int.from_bytes(hashlib.sha256(name.encode() + b"\n" + typed).digest()[:4], "big")
        assert key_hash(name, typed) == expected == int(hash16, 16)
        assert new_verifier(vkey).key_hash == expected


def test_signer_key_round_trips_and_matches_its_verifier() -> None:
    signer = new_signer(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_hash == 0xC74F20A3
    assert signer.skey == PETER_SKEY
    assert signer.verifier.vkey == PETER_VKEY
    assert ed25519_verifier_key("PeterNeumann", signer.public_key) == PETER_VKEY


def test_base64_part_may_contain_plus_signs() -> None:
    # Peter's signer key has a '+' inside its base64: split on the first four '+' only.
    assert "+" in PETER_SKEY.split("+", 4)[4]
    assert new_signer(PETER_SKEY).public_key == new_verifier(PETER_VKEY).public_key


def test_generated_keys_sign_and_verify() -> None:
    skey, vkey = generate_key("huzhu.example/log")
    signer, verifier = new_signer(skey), new_verifier(vkey)
    assert (signer.name, signer.key_hash) == (verifier.name, verifier.key_hash)
    note = open_note(sign_note("hello\n", [signer]), [verifier])
    assert note.text == "hello\n"
    other = Ed25519Signer.generate("huzhu.example/log")
    assert other.key_hash != signer.key_hash  # a different key has a different ID


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 hex digits
        "PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 0x prefix
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad base64
        "PeterNeumann+c74f20a3",  # no key
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(MalformedError):
        new_verifier(vkey)


def test_verifier_key_of_another_type_is_not_an_ed25519_key() -> None:
    name = "w.example"
    typed = b"\x04" + new_verifier(PETER_VKEY).public_key
    vkey = f"{name}+{key_hash(name, typed):08x}+{base64.b64encode(typed).decode()}"
    with pytest.raises(MalformedError, match="not Ed25519"):
        new_verifier(vkey)


def test_signer_key_with_wrong_id_or_prefix_is_refused() -> None:
    with pytest.raises(MalformedError):
        new_signer(PETER_SKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(MalformedError):
        new_signer(PETER_SKEY.replace("PRIVATE+KEY", "PRIVATE+KEYS"))


# --- signing (byte-exact with Go) ----------------------------------------------------------------


def test_signing_reproduces_go_byte_for_byte() -> None:
    signed = sign_note(TEXT, [new_signer(PETER_SKEY)])
    assert signed.decode("utf-8") == GO["signed_by_PeterNeumann"]
    assert signed.decode("utf-8") == TEXT + "\n" + PETER_SIG


def test_sign_keeps_existing_signatures_before_new_ones(peter: Ed25519Verifier) -> None:
    _, sigs = parse_note((TEXT + "\n" + ENOCH_SIG).encode())
    signed = sign_note(TEXT, [new_signer(PETER_SKEY)], existing=sigs)
    assert signed.decode() == TEXT + "\n" + ENOCH_SIG + PETER_SIG  # Go's note.Sign order


def test_sign_refuses_text_without_final_newline_or_with_control_characters() -> None:
    signer = new_signer(PETER_SKEY)
    with pytest.raises(MalformedError):
        sign_note("no newline", [signer])
    with pytest.raises(MalformedError):
        sign_note("tab\there\n", [signer])


# --- opening -------------------------------------------------------------------------------------


def test_one_known_signature_verifies_and_the_unknown_is_kept_unverified(peter: Ed25519Verifier) -> None:
    note = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [peter])
    assert note.text == TEXT
    assert [(s.name, s.key_hash) for s in note.signatures] == [("PeterNeumann", 0xC74F20A3)]
    assert [(s.name, s.key_hash) for s in note.unverified] == [("EnochRoot", 0xAF0CFE78)]


def test_both_known_signatures_verify(peter: Ed25519Verifier, enoch: Ed25519Verifier) -> None:
    note = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [peter, enoch])
    assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]
    assert note.unverified == ()


def test_no_known_key_means_unverified() -> None:
    with pytest.raises(UnverifiedNoteError) as caught:
        open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [])
    assert [s.name for s in caught.value.note.unverified] == ["PeterNeumann", "EnochRoot"]


def test_the_c2sp_example_verifies() -> None:
    note = open_note(C2SP["note"].encode(), [new_verifier(C2SP["verifier"])])
    assert note.text == "This is an example message.\n"


def test_a_known_key_with_a_bad_signature_rejects_the_whole_note(peter: Ed25519Verifier) -> None:
    forged = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidSignatureError, match="PeterNeumann"):
        open_note((TEXT + "\n" + forged).encode(), [peter])


def test_a_changed_text_does_not_verify(peter: Ed25519Verifier) -> None:
    with pytest.raises(InvalidSignatureError):
        open_note((TEXT.replace("answer", "answers") + "\n" + PETER_SIG).encode(), [peter])


def test_same_name_other_key_is_ignored_not_trusted(peter: Ed25519Verifier) -> None:
    impostor = Ed25519Signer.generate("PeterNeumann")  # same name, different key ID
    signed = sign_note(TEXT, [impostor])
    with pytest.raises(UnverifiedNoteError):
        open_note(signed, [peter])


def test_duplicated_lines_are_reported_once(peter: Ed25519Verifier) -> None:
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    msg = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    note = open_note(msg.encode(), [peter])
    assert len(note.signatures) == 1
    assert [s.line for s in note.unverified] == [ENOCH_SIG, enoch_abcd]


def test_two_trusted_keys_with_the_same_name_and_id_are_ambiguous(
    peter: Ed25519Verifier, enoch: Ed25519Verifier
) -> None:
    with pytest.raises(AmbiguousKeyError):
        open_note((TEXT + "\n" + ENOCH_SIG).encode(), [enoch, peter, enoch])
    open_note((TEXT + "\n" + PETER_SIG).encode(), [enoch, peter, enoch])  # unused duplicate: fine


# The seven forms of Go's TestOpen badMsgs, in the order of the vectors' must_be_rejected_as_malformed.
MALFORMED = {
    "the text alone, with no blank line and no signature": TEXT,
    "the text followed by a blank line and no signature": TEXT + "\n",
    "a signature line without its final newline": TEXT + "\n" + PETER_SIG[:-1],
    "a note starting with byte 0x01 or 0xff": None,  # bytes, below
    "a signature line whose name contains a space": TEXT + "\n" + "— Bad Name " + PETER_SIG.split(" ", 2)[2],
    "any line after the signatures that is not a signature": TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    "more than 100 signatures": TEXT + "\n" + PETER_SIG * 101,
}


def test_every_listed_malformed_form_is_covered() -> None:
    assert list(MALFORMED) == GO["must_be_rejected_as_malformed"]


@pytest.mark.parametrize("case", GO["must_be_rejected_as_malformed"])
def test_malformed_notes_are_rejected(case: str, peter: Ed25519Verifier) -> None:
    msgs = (
        [b"\x01" + (TEXT + "\n" + PETER_SIG).encode(), b"\xff" + (TEXT + "\n" + PETER_SIG).encode()]
        if MALFORMED[case] is None
        else [MALFORMED[case].encode()]
    )
    for msg in msgs:
        with pytest.raises(MalformedError):
            open_note(msg, [peter])


def test_exactly_100_signatures_are_accepted(peter: Ed25519Verifier) -> None:
    note = open_note((TEXT + "\n" + PETER_SIG * 100).encode(), [peter])
    assert len(note.signatures) == 1


@pytest.mark.parametrize(
    "sig_line",
    [
        "— PeterNeumann \n",  # empty signature
        "— PeterNeumann AAAA\n",  # shorter than key ID + 1 byte
        "— Peter+Neumann " + PETER_SIG.split(" ", 2)[2],  # '+' in the name
        "—PeterNeumann " + PETER_SIG.split(" ", 2)[2],  # no space after the dash
    ],
)
def test_bad_signature_lines_are_malformed(sig_line: str, peter: Ed25519Verifier) -> None:
    with pytest.raises(MalformedError):
        open_note((TEXT + "\n" + sig_line).encode(), [peter])


def test_text_may_contain_blank_lines_the_last_one_separates(peter: Ed25519Verifier) -> None:
    signer = new_signer(PETER_SKEY)
    text = "first\n\nsecond after a blank line\n\n"
    note = open_note(sign_note(text, [signer]), [peter])
    assert note.text == text


def test_add_signature_lines_appends_new_lines_once(peter: Ed25519Verifier, enoch: Ed25519Verifier) -> None:
    signed = (TEXT + "\n" + PETER_SIG).encode()
    both = add_signature_lines(signed, [ENOCH_SIG, PETER_SIG, ENOCH_SIG])
    assert both.decode() == TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert len(open_note(both, [peter, enoch]).signatures) == 2
    with pytest.raises(MalformedError):
        add_signature_lines(signed, ["not a signature line"])
