"""Secrets, pseudonyms, salts and leaves (``huzhu_verify.pseudonyms``), in Python, SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

import pytest
from sumtree_vectors import PATH, build_vectors, render, vector_secret

from huzhu_verify.leftover import pivot_point
from huzhu_verify.pseudonyms import (
    POSTGRES_LEAF_SQL,
    POSTGRES_PSEUDONYM_SQL,
    POSTGRES_SALT_SQL,
    TreeDerivation,
    format_secret,
    leaf_hash,
    member_leaf,
    new_member_secret,
    parse_secret,
    pool_secret,
    pseudonym,
    register_sqlite_functions,
    salt,
)
from huzhu_verify.sumtree import AmountOutOfRange, MalformedInput

CASE = "HZ000001"
POSTGRES_URL = os.environ.get("HUZHU_TEST_POSTGRES_URL", "")


def test_derivations_follow_the_documented_bytes() -> None:
    secret = vector_secret(0)
    assert pseudonym(secret, CASE) == hashlib.sha256(b"huzhu/pseudonym/v1|HZ000001|" + secret).digest()
    assert salt(secret, CASE) == hashlib.sha256(b"huzhu/salt/v1|HZ000001|" + secret).digest()
    p, s = pseudonym(secret, CASE), salt(secret, CASE)
    expected = hashlib.sha256(b"\x00" + b"huzhu/leaf/share/v1|" + s + p + (204).to_bytes(8, "big")).digest()
    assert leaf_hash("share", s, p, 204) == expected
    assert member_leaf("share", secret, CASE, 204).leaf_hash == expected
    assert pool_secret(CASE) == hashlib.sha256(b"huzhu/pool-secret/v1|HZ000001").digest()
    assert pivot_point(CASE) == hashlib.sha256(b"huzhu/pivot/v2|HZ000001").digest()


def test_pseudonyms_and_salts_are_unlinkable_across_trees_and_kinds() -> None:
    secret = vector_secret(1)
    values = {pseudonym(secret, "HZ000001"), pseudonym(secret, "HZ000002"), salt(secret, "HZ000001"),
              salt(secret, "HZ000002"), pseudonym(vector_secret(2), "HZ000001")}
    assert len(values) == 5
    s, p = salt(secret, CASE), pseudonym(secret, CASE)
    assert len({leaf_hash(kind, s, p, 100) for kind in ("share", "balance", "pool")}) == 3
    assert leaf_hash("share", s, p, 100) != leaf_hash("share", s, p, 101)


def test_the_old_leaf_could_be_brute_forced_and_the_new_one_cannot_be_recomputed_without_the_secret() -> None:
    """The audit's finding (d): the old leaf held only (case, member number, share), a few million guesses."""
    old = hashlib.sha256(b"\x00" + b'{"case":"HZ000001","member":50002,"share":"2.04"}').digest()
    found = next(
        (m, fen) for m in range(49_990, 50_010) for fen in range(200, 210)
        if hashlib.sha256(b"\x00" + f'{{"case":"HZ000001","member":{m},"share":"{fen // 100}.{fen % 100:02d}"}}'
                          .encode()).digest() == old
    )
    assert found == (50002, 204)
    # The new leaf needs the member's 32-byte salt: the pseudonym and the amount (both public) are not enough.
    secret = vector_secret(5)
    leaf = member_leaf("share", secret, CASE, 204)
    guesses = {leaf_hash("share", hashlib.sha256(bytes([i])).digest(), leaf.pseudonym, 204) for i in range(256)}
    assert leaf.leaf_hash not in guesses


def test_secrets_are_random_shown_as_hex_and_read_back_leniently() -> None:
    a, b = new_member_secret(), new_member_secret()
    assert len(a) == 32 and a != b
    shown = format_secret(a)
    assert parse_secret(shown) == a
    grouped = "-".join(shown[i:i + 8] for i in range(0, 64, 8)).upper()
    assert parse_secret(grouped) == a
    assert parse_secret(" ".join(shown[i:i + 4] for i in range(0, 64, 4))) == a
    for bad in (shown[:-1], shown + "0", "g" + shown[1:], "", 42):
        with pytest.raises(MalformedInput):
            parse_secret(bad)  # type: ignore[arg-type]
    with pytest.raises(MalformedInput):
        pseudonym(b"short", CASE)
    with pytest.raises(MalformedInput):
        pseudonym(a, "HZ|000001")


def test_leaf_refuses_bad_kinds_and_amounts() -> None:
    s = p = hashlib.sha256(b"x").digest()
    with pytest.raises(MalformedInput):
        leaf_hash("bonus", s, p, 1)
    with pytest.raises(AmountOutOfRange):
        leaf_hash("share", s, p, -1)
    with pytest.raises(AmountOutOfRange):
        leaf_hash("share", s, p, 1 << 64)
    with pytest.raises(MalformedInput):
        leaf_hash("share", s[:31], p, 1)


def test_the_stored_test_vectors_are_what_the_code_computes() -> None:
    """``tests/data/sumtree/vectors.json`` is the contract with ``sumproof.js``: any change to a
    derivation or a byte format shows here first."""
    assert PATH.read_text(encoding="utf-8") == render(build_vectors())


def test_vectors_carry_failing_cases_for_every_reason() -> None:
    vectors = json.loads(PATH.read_text(encoding="utf-8"))
    reasons = {c["reason"] for c in vectors["share_checks"] if not c["ok"]}
    assert reasons == {"amount_out_of_range", "sum_mismatch", "root_mismatch", "proof_shape", "malformed"}
    assert sum(c["ok"] for c in vectors["share_checks"]) == len(vectors["share_tree"]["members"])


def test_sqlite_functions_compute_the_same_bytes() -> None:
    conn = sqlite3.connect(":memory:")
    register_sqlite_functions(conn)
    conn.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, secret BLOB NOT NULL, share INTEGER NOT NULL)")
    conn.executemany("INSERT INTO m VALUES (?, ?, ?)", [(i, vector_secret(i), 100 + i) for i in range(20)])
    rows = conn.execute(
        "SELECT id, p, s, huzhu_leaf('share', s, p, share) FROM "
        "(SELECT id, share, huzhu_pseudonym(secret, :case) AS p, huzhu_salt(secret, :case) AS s FROM m) "
        "ORDER BY p", {"case": CASE}).fetchall()
    derivation = TreeDerivation(CASE)
    expected = sorted((derivation.pseudonym(vector_secret(i)), i) for i in range(20))
    assert [r[0] for r in rows] == [i for _, i in expected]  # BLOB order is the verifier's byte order
    for member_id, p, s, leaf in rows:
        mine = member_leaf("share", vector_secret(member_id), CASE, 100 + member_id)
        assert (bytes(p), bytes(s), bytes(leaf)) == (mine.pseudonym, mine.salt, mine.leaf_hash)
    # The leftover rule's pivot: the first pseudonym at or above SHA-256("huzhu/pivot/v2|" ‖ case).
    pivot = pivot_point(CASE)
    first = conn.execute("SELECT id FROM (SELECT id, huzhu_pseudonym(secret, ?) AS p FROM m) WHERE p >= ? "
                         "ORDER BY p LIMIT 1", (CASE, pivot)).fetchone()
    after = [i for p, i in expected if p >= pivot]
    assert (first[0] if first else None) == (after[0] if after else None)


def test_the_sqlite_pseudonym_keeps_one_prefix_per_tree_and_checks_its_arguments() -> None:
    conn = sqlite3.connect(":memory:")
    register_sqlite_functions(conn)
    for tree in (CASE, "liabilities-2026-11-25", CASE, "HZ000002"):
        got = conn.execute("SELECT huzhu_pseudonym(?, ?)", (vector_secret(3), tree)).fetchone()[0]
        assert got == pseudonym(vector_secret(3), tree)
    got = conn.execute("SELECT huzhu_pseudonym(?, ?)", (memoryview(vector_secret(4)), CASE)).fetchone()[0]
    assert got == pseudonym(vector_secret(4), CASE)
    sqlite3.enable_callback_tracebacks(False)
    for secret, tree in ((b"short", CASE), (vector_secret(1), "bad id!")):
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("SELECT huzhu_pseudonym(?, ?)", (secret, tree)).fetchone()


@pytest.mark.skipif(not POSTGRES_URL, reason="HUZHU_TEST_POSTGRES_URL is not set")
def test_postgresql_expressions_compute_the_same_bytes() -> None:
    import psycopg

    p_sql = POSTGRES_PSEUDONYM_SQL.format(tree_id="%(case)s", secret="secret")
    s_sql = POSTGRES_SALT_SQL.format(tree_id="%(case)s", secret="secret")
    leaf_sql = POSTGRES_LEAF_SQL.format(domain="'huzhu/leaf/share/v1|'", salt="s", pseudonym="p", amount="share")
    with psycopg.connect(POSTGRES_URL) as conn:
        conn.execute("CREATE TEMP TABLE m (id int PRIMARY KEY, secret bytea NOT NULL, share bigint NOT NULL)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO m VALUES (%s, %s, %s)", [(i, vector_secret(i), 100 + i) for i in range(20)])
        rows = conn.execute(
            f"SELECT id, p, s, {leaf_sql} FROM (SELECT id, share, {p_sql} AS p, {s_sql} AS s FROM m) x ORDER BY p",
            {"case": CASE}).fetchall()
        pivot = pivot_point(CASE)
        first = conn.execute(f"SELECT id FROM m WHERE {p_sql} >= %(pivot)s ORDER BY {p_sql} LIMIT 1",
                             {"case": CASE, "pivot": pivot}).fetchone()
        conn.rollback()
    derivation = TreeDerivation(CASE)
    expected = sorted((derivation.pseudonym(vector_secret(i)), i) for i in range(20))
    assert [r[0] for r in rows] == [i for _, i in expected]  # bytea order is the verifier's byte order
    for member_id, p, s, leaf in rows:
        mine = member_leaf("share", vector_secret(member_id), CASE, 100 + member_id)
        assert (bytes(p), bytes(s), bytes(leaf)) == (mine.pseudonym, mine.salt, mine.leaf_hash)
    after = [i for p, i in expected if p >= pivot]
    assert (first[0] if first else None) == (after[0] if after else None)


def test_the_bulk_leaf_path_gives_the_same_bytes_and_refusals() -> None:
    derivation = TreeDerivation(CASE)
    rows = [(vector_secret(i), 100 + i) for i in range(10)]
    bulk = list(derivation.leaf_hashes("share", rows))
    for (secret, amount), (p, leaf, a) in zip(rows, bulk, strict=True):
        one = member_leaf("share", secret, CASE, amount)
        assert (p, leaf, a) == (one.pseudonym, one.leaf_hash, amount)
    with pytest.raises(MalformedInput):
        list(derivation.leaf_hashes("share", [(b"short", 1)]))
    with pytest.raises(AmountOutOfRange):
        list(derivation.leaf_hashes("share", [(vector_secret(0), -1)]))
    with pytest.raises(MalformedInput):
        list(derivation.leaf_hashes("bonus", rows))


def test_pseudonyms_of_a_list_are_each_secrets_pseudonym_and_refuse_a_bad_secret() -> None:
    derive = TreeDerivation("liabilities-2015-03-13")
    secrets = [bytes([i]) * 32 for i in range(50)]
    assert derive.pseudonyms_of(secrets) == [derive.pseudonym(s) for s in secrets]
    assert derive.pseudonyms_of([]) == []
    with pytest.raises(MalformedInput):
        derive.pseudonyms_of([*secrets, b"short"])
