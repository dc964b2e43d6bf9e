"""``sumproof.js`` in Debian's Chromium: the shared test vectors, tampered proofs, and its speed.

The script is served from a throwaway directory by ``http.server`` on 127.0.0.1 (a secure context,
so WebCrypto is there) next to a bare page that loads it; nothing else from the app is involved.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from huzhu_verify.pseudonyms import TreeDerivation
from huzhu_verify.runcheck import verify_share_document
from huzhu_verify.sumtree import InclusionProof, format_yuan, node_hash, path_shape, root_of

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "src" / "huzhu" / "web" / "static" / "sumproof.js"
VECTORS = REPO / "tests" / "data" / "sumtree" / "vectors.json"
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sumproof</title>
<script src="sumproof.js"></script></head><body><p id="ready">ready</p></body></html>"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


@pytest.fixture(scope="module")
def static_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("sumproof")
    shutil.copy(SCRIPT, root / "sumproof.js")
    (root / "index.html").write_text(PAGE, encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def page(browser: Browser, static_site: str) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(static_site)
    assert page.evaluate("typeof window.huzhuVerify") == "object"
    assert page.evaluate("window.isSecureContext") is True
    yield page
    context.close()
    assert not errors, errors


def test_derivations_match_the_vectors(page: Page) -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    got = page.evaluate(
        """async (v) => {
          const h = window.huzhuVerify.hex;
          const out = {derivations: [], pools: [], leaves: [], nodes: [], roots: []};
          for (const d of v.derivations) out.derivations.push([await h.pseudonym(d.secret, d.tree_id), await h.salt(d.secret, d.tree_id)]);
          for (const p of v.pool_secrets) out.pools.push(await h.poolSecret(p.case_no));
          for (const l of v.leaves) out.leaves.push(await h.leaf(l.kind, l.salt, l.pseudonym, l.amount));
          for (const n of v.nodes) out.nodes.push(await h.node(n.left_hash, n.left_sum, n.right_hash, n.right_sum));
          for (const r of v.roots) out.roots.push(await h.root(r.kind, r.tree_id, r.count, r.sum, r.top));
          return out;
        }""",
        vectors,
    )
    assert got["derivations"] == [[d["pseudonym"], d["salt"]] for d in vectors["derivations"]]
    assert got["pools"] == [p["secret"] for p in vectors["pool_secrets"]]
    assert got["leaves"] == [leaf["leaf_hash"] for leaf in vectors["leaves"]]
    assert got["nodes"] == [n["hash"] for n in vectors["nodes"]]
    assert got["roots"] == [r["hash"] for r in vectors["roots"]]


@pytest.mark.parametrize(("section", "function"), [
    ("share_checks", "verifyShare"), ("balance_checks", "verifyBalance"), ("pool_checks", "verifyPool"),
])
def test_every_check_gives_the_vectors_answer(page: Page, section: str, function: str) -> None:
    """Valid proofs pass; amount + 0.01, a wrong secret (salt), swapped siblings, a changed sum, a
    zero or negative leaf, a changed count … fail, each with the same reason as the Python verifier."""
    cases = json.loads(VECTORS.read_text(encoding="utf-8"))[section]
    results = page.evaluate(
        f"""async (cases) => {{
          const out = [];
          for (const c of cases) out.push(await window.huzhuVerify.{function}(c.document));
          return out;
        }}""",
        cases,
    )
    assert len(results) == len(cases)
    for case, result in zip(cases, results, strict=True):
        assert (result["ok"], result["reason"]) == (case["ok"], case["reason"]), (case["name"], result["message"])
        if result["ok"]:
            assert result["steps"] and result["steps"][-1].endswith("matches")
    assert any(not c["ok"] for c in cases) and any(c["ok"] for c in cases)


def test_the_document_may_be_json_text_and_garbage_is_refused(page: Page) -> None:
    document = json.loads(VECTORS.read_text(encoding="utf-8"))["share_checks"][0]["document"]
    assert page.evaluate("async (t) => (await window.huzhuVerify.verifyShare(t)).ok", json.dumps(document)) is True
    for bad in ("{not json", "null", "[]", json.dumps({**document, "amount": 2.04})):
        result = page.evaluate("async (t) => await window.huzhuVerify.verifyShare(t)", bad)
        assert result["ok"] is False and result["reason"] == "malformed", (bad, result)


@functools.cache
def _uniform_top(size: int, leaf: bytes, amount: int) -> tuple[bytes, int]:
    """Top of a tree of ``size`` identical leaves (RFC 6962 shape), in O(log² n)."""
    if size == 1:
        return leaf, amount
    k = 1 << ((size - 1).bit_length() - 1)
    (lh, ls), (rh, rs) = _uniform_top(k, leaf, amount), _uniform_top(size - k, leaf, amount)
    return node_hash(lh, ls, rh, rs), ls + rs


def _big_tree_document(count: int, index: int) -> dict[str, object]:
    """A member at ``index`` of a ``count``-leaf share tree whose other leaves are all alike: a real,
    full-depth proof without building millions of leaves."""
    case_no = "HZ000042"
    secret = hashlib.sha256(b"browser timing member").digest()
    mine = TreeDerivation(case_no).leaf("share", secret, 204)
    other = hashlib.sha256(b"everybody else").digest()
    h, s = mine.leaf_hash, 204
    path = []
    for sibling_is_left, size in path_shape(index, count):
        sh, ss = _uniform_top(size, other, 300)
        path.append((sh, ss))
        h, s = (node_hash(sh, ss, h, s), ss + s) if sibling_is_left else (node_hash(h, s, sh, ss), s + ss)
    root = root_of("share", case_no, count, s, h)
    proof = InclusionProof("share", case_no, index, count, tuple(path))
    return {"case_no": case_no, "secret": secret.hex(), "amount": format_yuan(204), "cap": "3.00",
            "proof": proof.to_json(), "root": root.to_json()}


def test_one_proof_in_a_ten_million_member_tree_verifies_within_50_ms(page: Page) -> None:
    document = _big_tree_document(10_000_000, 6_543_210)
    assert verify_share_document(document).ok
    timing = page.evaluate(
        """async (doc) => {
          const first = await window.huzhuVerify.verifyShare(doc);
          const times = [];
          for (let i = 0; i < 50; i++) {
            const t0 = performance.now();
            const r = await window.huzhuVerify.verifyShare(doc);
            times.push(performance.now() - t0);
            if (!r.ok) return {ok: false, reason: r.reason};
          }
          times.sort((a, b) => a - b);
          return {ok: first.ok, steps: first.steps.length, median: times[25], max: times[49]};
        }""",
        document,
    )
    print(f"\nsumproof.js, one share proof in a 10,000,000-leaf tree ({timing.get('steps')} steps): "
          f"median {timing.get('median'):.2f} ms, max {timing.get('max'):.2f} ms (target ≤ 50 ms)")
    assert timing["ok"] is True
    assert timing["median"] <= 50
    tampered = json.loads(json.dumps(document))
    tampered["proof"]["path"][10]["sum"] = format_yuan(300 * 1024 + 1)
    result = page.evaluate("async (d) => await window.huzhuVerify.verifyShare(d)", tampered)
    assert (result["ok"], result["reason"]) == (False, "amount_out_of_range")
