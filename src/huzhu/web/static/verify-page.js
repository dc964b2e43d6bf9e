// The member's page checks their own leaves: the document (with their secret) comes from their
// session; the root comes separately from the public API, so a root shown only to this member would
// not verify. sumproof.js does the hashing with WebCrypto.
//
// Checkpoint hook: when the log publishes signed checkpoints, define
// window.huzhuCheckpoint = { verifyRoot: async (root) => ({ ok: true, text: "…" }) } before this
// script runs; it is then asked to confirm that the public record holding the root is in a signed,
// witnessed tree. Until then the page says plainly that no signed checkpoint was checked.
(function () {
  "use strict";
  const labels = document.getElementById("verify-labels");
  if (!labels || !window.huzhuVerify) return;

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  async function publishedRoot(item, doc) {
    const published = await getJson(item.dataset.root);
    if (item.dataset.kind === "balance") return published.root;
    const found = (published.cases || []).find((c) => c.case_no === item.dataset.case);
    if (!found || !found.root) throw new Error(`no published root for ${item.dataset.case}`);
    return found.root;
  }

  function show(item, ok, lines) {
    const status = item.querySelector(".verify-status");
    const steps = item.querySelector(".verify-steps");
    status.textContent = ok ? `✓ ${labels.dataset.verified}` : `✗ ${labels.dataset.failed}`;
    status.classList.add(ok ? "verified" : "alert");
    item.dataset.result = ok ? "verified" : "failed";
    steps.replaceChildren(...lines.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }));
  }

  async function check(item) {
    const started = performance.now();
    try {
      const doc = await getJson(item.dataset.doc);
      const root = await publishedRoot(item, doc);
      const mine = { ...doc, root };
      const result = item.dataset.kind === "balance"
        ? await window.huzhuVerify.verifyBalance(mine) : await window.huzhuVerify.verifyShare(mine);
      const lines = [...result.steps];
      if (!result.ok) lines.push(result.message);
      if (JSON.stringify(doc.root) !== JSON.stringify(root)) lines.push("the root sent with the proof differs from the published one");
      let ok = result.ok;
      if (ok && window.huzhuCheckpoint && typeof window.huzhuCheckpoint.verifyRoot === "function") {
        const signed = await window.huzhuCheckpoint.verifyRoot(root);
        ok = Boolean(signed && signed.ok);
        lines.push(signed && signed.text ? signed.text : "signed checkpoint check failed");
      } else {
        lines.push(labels.dataset.noCheckpoint);
      }
      lines.push(`${Math.round(performance.now() - started)} ms`);
      show(item, ok, lines);
    } catch (err) {
      show(item, false, [String(err && err.message ? err.message : err)]);
    }
  }

  document.querySelectorAll(".verify-item").forEach((item) => {
    if (item.querySelector(".verify-status")) check(item);
  });
})();
