/*
 * huzhu — a member's own check of a share or a balance against a published Merkle-sum root.
 *
 * Plain ES2020, no libraries, SHA-256 from WebCrypto (a secure context: https or localhost).
 * Byte formats are those of the Python verifier (src/huzhu_verify/sumtree.py and pseudonyms.py);
 * both must pass tests/data/sumtree/vectors.json, and both report the same reason codes:
 *   malformed, amount_out_of_range, sum_mismatch, root_mismatch, proof_shape.
 *
 *   pseudonym = SHA-256("huzhu/pseudonym/v1|" ‖ tree_id ‖ "|" ‖ secret)
 *   salt      = SHA-256("huzhu/salt/v1|" ‖ tree_id ‖ "|" ‖ secret)
 *   leaf      = SHA-256(0x00 ‖ "huzhu/leaf/<kind>/v1|" ‖ salt ‖ pseudonym ‖ u64(amount))
 *   node      = SHA-256(0x01 ‖ left.hash ‖ u64(left.sum) ‖ right.hash ‖ u64(right.sum))
 *   root      = SHA-256(0x02 ‖ "huzhu/sumtree/v1|" ‖ kind ‖ "|" ‖ tree_id ‖ "|" ‖ u64(count) ‖ u64(sum) ‖ top)
 * u64 is 8 bytes unsigned big-endian; amounts are fen (BigInt here), written "2.04" in JSON.
 *
 * API (window.huzhuVerify), each returning a Promise of {ok, reason, message, steps}:
 *   verifyShare({case_no, amount, cap?, secret, proof, root})
 *   verifyBalance({day, amount, secret, proof, root})
 *   verifyPool({case_no, day, amount, proof, root})
 * ``proof`` = {kind, tree_id, index, count, path: [{hash, sum}, ...]} (leaf to top),
 * ``root``  = {kind, tree_id, count, sum, hash}. Nothing leaves the browser.
 */
(function (global) {
  "use strict";

  const U64_MAX = (1n << 64n) - 1n;
  const HEX64 = /^[0-9a-f]{64}$/;
  const YUAN = /^(0|[1-9][0-9]{0,17})\.([0-9]{2})$/;
  const TREE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
  const DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
  const MIN_LEAF = { share: 1n, liabilities: 0n };
  const LEAF_DOMAINS = {
    share: "huzhu/leaf/share/v1|",
    balance: "huzhu/leaf/balance/v1|",
    pool: "huzhu/leaf/pool/v1|",
  };

  class VerificationError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  function fail(code, message) {
    throw new VerificationError(code, message);
  }

  const encoder = new TextEncoder();

  function ascii(text) {
    return encoder.encode(text);
  }

  function concat(...parts) {
    let length = 0;
    for (const part of parts) length += part.length;
    const out = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  function toHex(bytes) {
    let out = "";
    for (const b of bytes) out += b.toString(16).padStart(2, "0");
    return out;
  }

  function fromHex(text, what) {
    if (typeof text !== "string" || !HEX64.test(text)) {
      fail("malformed", `${what}: expected 64 lowercase hex digits, got ${JSON.stringify(text)}`);
    }
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
    return out;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  function u64(value) {
    if (typeof value !== "bigint" || value < 0n || value > U64_MAX) {
      fail("amount_out_of_range", `${value} is not between 0 and 2^64-1`);
    }
    const out = new Uint8Array(8);
    let v = value;
    for (let i = 7; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  }

  async function sha256(bytes) {
    return new Uint8Array(await global.crypto.subtle.digest("SHA-256", bytes));
  }

  function parseYuan(text, what) {
    if (typeof text !== "string") fail("malformed", `${what}: expected an amount like "2.04", got ${JSON.stringify(text)}`);
    const match = YUAN.exec(text);
    if (!match) {
      if (text.startsWith("-")) fail("amount_out_of_range", `${what}: ${text} is negative; published amounts are never negative`);
      fail("malformed", `${what}: ${JSON.stringify(text)} is not an amount written as yuan with two decimals`);
    }
    const fen = BigInt(match[1]) * 100n + BigInt(match[2]);
    if (fen > U64_MAX) fail("amount_out_of_range", `${what}: ${text} does not fit in 64 bits`);
    return fen;
  }

  function formatYuan(fen) {
    const sign = fen < 0n ? "-" : "";
    const abs = fen < 0n ? -fen : fen;
    return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
  }

  function checkTreeId(treeId) {
    if (typeof treeId !== "string" || !TREE_ID.test(treeId)) {
      fail("malformed", `tree id ${JSON.stringify(treeId)} must be 1-64 characters of A-Z a-z 0-9 . _ : -`);
    }
    return treeId;
  }

  function checkKind(kind) {
    if (!Object.prototype.hasOwnProperty.call(MIN_LEAF, kind)) fail("malformed", `unknown tree kind ${JSON.stringify(kind)}`);
    return kind;
  }

  function checkCount(value, what) {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      fail("malformed", `${what} ${JSON.stringify(value)} is not a whole number`);
    }
    return value;
  }

  function parseSecret(text) {
    if (typeof text !== "string") fail("malformed", "the member secret is text: 64 hex digits");
    const cleaned = text.replace(/[ \-\t\n]/g, "").toLowerCase();
    if (cleaned.length !== 64) fail("malformed", `a member secret is 64 hex digits; got ${cleaned.length}`);
    if (!HEX64.test(cleaned)) fail("malformed", "a member secret is written with the digits 0-9 and the letters a-f only");
    return fromHex(cleaned, "secret");
  }

  // ------------------------------------------------------------ derivations

  async function derivePseudonym(secret, treeId) {
    return sha256(concat(ascii(`huzhu/pseudonym/v1|${checkTreeId(treeId)}|`), secret));
  }

  async function deriveSalt(secret, treeId) {
    return sha256(concat(ascii(`huzhu/salt/v1|${checkTreeId(treeId)}|`), secret));
  }

  async function poolSecret(caseNo) {
    return sha256(ascii(`huzhu/pool-secret/v1|${checkTreeId(caseNo)}`));
  }

  async function leafHash(kind, salt, pseudonym, amount) {
    if (!Object.prototype.hasOwnProperty.call(LEAF_DOMAINS, kind)) fail("malformed", `unknown leaf kind ${kind}`);
    return sha256(concat(new Uint8Array([0]), ascii(LEAF_DOMAINS[kind]), salt, pseudonym, u64(amount)));
  }

  async function nodeHash(leftHash, leftSum, rightHash, rightSum) {
    if (leftSum + rightSum > U64_MAX) fail("amount_out_of_range", "the two children's sums overflow 64 bits");
    return sha256(concat(new Uint8Array([1]), leftHash, u64(leftSum), rightHash, u64(rightSum)));
  }

  async function rootDigest(kind, treeId, count, sum, top) {
    return sha256(concat(new Uint8Array([2]), ascii(`huzhu/sumtree/v1|${checkKind(kind)}|${checkTreeId(treeId)}|`),
      u64(BigInt(count)), u64(sum), top));
  }

  // ------------------------------------------------------------ proofs

  function pathShape(index, count) {
    if (!(index >= 0 && index < count)) fail("proof_shape", `leaf index ${index} is not inside a tree of ${count} leaves`);
    const shape = [];
    let start = 0;
    let end = count;
    let m = index;
    while (end - start > 1) {
      let k = 1;
      while (k * 2 < end - start) k *= 2;
      if (m < k) {
        shape.push({ siblingIsLeft: false, size: end - start - k });
        end = start + k;
      } else {
        shape.push({ siblingIsLeft: true, size: k });
        start += k;
        m -= k;
      }
    }
    return shape.reverse();
  }

  function requireFields(obj, fields, what) {
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) fail("malformed", `${what} must be an object`);
    const missing = fields.filter((f) => !Object.prototype.hasOwnProperty.call(obj, f)).sort();
    if (missing.length) fail("malformed", `${what} lacks ${missing.join(", ")}`);
  }

  function parseRoot(obj) {
    requireFields(obj, ["kind", "tree_id", "count", "sum", "hash"], "the root");
    const count = checkCount(obj.count, "root count");
    checkKind(obj.kind);
    checkTreeId(obj.tree_id);
    return { kind: obj.kind, treeId: obj.tree_id, count, sum: parseYuan(obj.sum, "root sum"), hash: fromHex(obj.hash, "root hash") };
  }

  function parseProof(obj) {
    requireFields(obj, ["kind", "tree_id", "index", "count", "path"], "the proof");
    const index = checkCount(obj.index, "proof index");
    const count = checkCount(obj.count, "proof count");
    if (!Array.isArray(obj.path)) fail("malformed", "proof path must be a list of {hash, sum}");
    const path = obj.path.map((step, i) => {
      const keys = step && typeof step === "object" ? Object.keys(step).sort() : [];
      if (keys.length !== 2 || keys[0] !== "hash" || keys[1] !== "sum") {
        fail("malformed", `proof step ${i} must be an object with exactly hash and sum`);
      }
      return { hash: fromHex(step.hash, `proof step ${i} hash`), sum: parseYuan(step.sum, `proof step ${i} sum`) };
    });
    checkKind(obj.kind);
    checkTreeId(obj.tree_id);
    return { kind: obj.kind, treeId: obj.tree_id, index, count, path };
  }

  async function verifyInclusion(leaf, amount, proof, root, maxLeaf) {
    const minLeaf = MIN_LEAF[root.kind];
    if (proof.kind !== root.kind || proof.treeId !== root.treeId) {
      fail("root_mismatch", `the proof is for the ${proof.kind} tree ${proof.treeId}, the root for the ${root.kind} tree ${root.treeId}`);
    }
    if (proof.count !== root.count) {
      fail("proof_shape", `the proof is for a tree of ${proof.count} leaves but the root commits to ${root.count}`);
    }
    const high = maxLeaf === null ? U64_MAX : maxLeaf;
    if (amount < minLeaf || amount > high) {
      fail("amount_out_of_range", `the leaf's amount ${formatYuan(amount)} is outside what a ${root.kind} tree allows`);
    }
    const shape = pathShape(proof.index, root.count);
    if (proof.path.length !== shape.length) {
      fail("proof_shape", `leaf ${proof.index} of ${root.count} needs ${shape.length} proof steps, the proof has ${proof.path.length}`);
    }
    const steps = [`leaf ${proof.index} of ${root.count}: ${formatYuan(amount)} → ${toHex(leaf).slice(0, 16)}…`];
    let h = leaf;
    let s = amount;
    for (let i = 0; i < shape.length; i++) {
      const level = i + 1;
      const { siblingIsLeft, size } = shape[i];
      const sibling = proof.path[i];
      const low = minLeaf * BigInt(size);
      let top = maxLeaf === null ? U64_MAX : maxLeaf * BigInt(size);
      if (top > U64_MAX) top = U64_MAX;
      if (sibling.sum < low || sibling.sum > top) {
        fail("amount_out_of_range", `level ${level}: the sibling holds ${size} leaves, so its sum must be between ${formatYuan(low)} and ${formatYuan(top)}; the proof says ${formatYuan(sibling.sum)}`);
      }
      if (s + sibling.sum > U64_MAX) fail("amount_out_of_range", `level ${level}: the sum overflows 64 bits`);
      h = siblingIsLeft ? await nodeHash(sibling.hash, sibling.sum, h, s) : await nodeHash(h, s, sibling.hash, sibling.sum);
      s += sibling.sum;
      steps.push(`level ${level}: sibling on the ${siblingIsLeft ? "left" : "right"}, ${size} leaves summing ${formatYuan(sibling.sum)} → ${toHex(h).slice(0, 16)}… summing ${formatYuan(s)}`);
    }
    if (s !== root.sum) fail("sum_mismatch", `the path adds up to ${formatYuan(s)} but the root publishes ${formatYuan(root.sum)}`);
    const digest = await rootDigest(root.kind, root.treeId, root.count, s, h);
    if (!equalBytes(digest, root.hash)) {
      fail("root_mismatch", `the path leads to root ${toHex(digest)} but the published root is ${toHex(root.hash)}`);
    }
    steps.push(`root ${toHex(digest).slice(0, 16)}… over ${root.count} leaves summing ${formatYuan(s)}: matches`);
    return steps;
  }

  async function run(check) {
    try {
      const steps = await check();
      return { ok: true, reason: null, message: "verified", steps };
    } catch (err) {
      if (err instanceof VerificationError) return { ok: false, reason: err.code, message: err.message, steps: [] };
      return { ok: false, reason: "malformed", message: String(err && err.message ? err.message : err), steps: [] };
    }
  }

  function asObject(doc) {
    const obj = typeof doc === "string" ? JSON.parse(doc) : doc;
    if (obj === null || typeof obj !== "object") fail("malformed", "expected a JSON object");
    return obj;
  }

  function checkDay(day) {
    if (typeof day !== "string" || !DAY.test(day)) fail("malformed", `day ${JSON.stringify(day)} is not YYYY-MM-DD`);
    const parsed = new Date(`${day}T00:00:00Z`);
    if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== day) {
      fail("malformed", `day ${JSON.stringify(day)} is not a calendar date`);
    }
    return day;
  }

  async function verifyShare(doc) {
    return run(async () => {
      const d = asObject(doc);
      requireFields(d, ["case_no", "secret", "amount", "proof", "root"], "the share document");
      const caseNo = checkTreeId(d.case_no);
      const secret = parseSecret(d.secret);
      const amount = parseYuan(d.amount, "amount");
      const cap = d.cap === undefined || d.cap === null ? null : parseYuan(d.cap, "cap");
      const proof = parseProof(d.proof);
      const root = parseRoot(d.root);
      if (root.kind !== "share" || root.treeId !== caseNo) {
        fail("root_mismatch", `the root is for the ${root.kind} tree ${root.treeId}, not case ${caseNo}'s shares`);
      }
      const pseudonym = await derivePseudonym(secret, caseNo);
      const salt = await deriveSalt(secret, caseNo);
      const leaf = await leafHash("share", salt, pseudonym, amount);
      const steps = await verifyInclusion(leaf, amount, proof, root, cap);
      steps.unshift(`your pseudonym for ${caseNo}: ${toHex(pseudonym)}`);
      return steps;
    });
  }

  async function verifyBalance(doc) {
    return run(async () => {
      const d = asObject(doc);
      requireFields(d, ["day", "secret", "amount", "proof", "root"], "the balance document");
      const treeId = `liabilities-${checkDay(d.day)}`;
      const secret = parseSecret(d.secret);
      const amount = parseYuan(d.amount, "amount");
      const proof = parseProof(d.proof);
      const root = parseRoot(d.root);
      if (root.kind !== "liabilities" || root.treeId !== treeId) {
        fail("root_mismatch", `the root is for the ${root.kind} tree ${root.treeId}, not ${treeId}`);
      }
      const pseudonym = await derivePseudonym(secret, treeId);
      const salt = await deriveSalt(secret, treeId);
      const leaf = await leafHash("balance", salt, pseudonym, amount);
      return verifyInclusion(leaf, amount, proof, root, null);
    });
  }

  async function verifyPool(doc) {
    return run(async () => {
      const d = asObject(doc);
      requireFields(d, ["case_no", "day", "amount", "proof", "root"], "the pool document");
      const treeId = `liabilities-${checkDay(d.day)}`;
      const secret = await poolSecret(d.case_no);
      const amount = parseYuan(d.amount, "amount");
      const proof = parseProof(d.proof);
      const root = parseRoot(d.root);
      if (root.kind !== "liabilities" || root.treeId !== treeId) {
        fail("root_mismatch", `the root is for the ${root.kind} tree ${root.treeId}, not ${treeId}`);
      }
      const pseudonym = await derivePseudonym(secret, treeId);
      const salt = await deriveSalt(secret, treeId);
      const leaf = await leafHash("pool", salt, pseudonym, amount);
      return verifyInclusion(leaf, amount, proof, root, null);
    });
  }

  // Low-level pieces, hex in and out, for the test vectors and for pages that show the working.
  const hex = {
    pseudonym: async (secretHex, treeId) => toHex(await derivePseudonym(parseSecret(secretHex), treeId)),
    salt: async (secretHex, treeId) => toHex(await deriveSalt(parseSecret(secretHex), treeId)),
    poolSecret: async (caseNo) => toHex(await poolSecret(caseNo)),
    leaf: async (kind, saltHex, pseudonymHex, amount) =>
      toHex(await leafHash(kind, fromHex(saltHex, "salt"), fromHex(pseudonymHex, "pseudonym"), parseYuan(amount, "amount"))),
    node: async (lh, ls, rh, rs) =>
      toHex(await nodeHash(fromHex(lh, "left"), parseYuan(ls, "left sum"), fromHex(rh, "right"), parseYuan(rs, "right sum"))),
    root: async (kind, treeId, count, sum, topHex) =>
      toHex(await rootDigest(kind, treeId, count, parseYuan(sum, "sum"), fromHex(topHex, "top"))),
  };

  global.huzhuVerify = Object.freeze({
    verifyShare,
    verifyBalance,
    verifyPool,
    pathShape,
    parseYuan,
    formatYuan,
    hex,
    VerificationError,
  });
})(typeof window !== "undefined" ? window : globalThis);
