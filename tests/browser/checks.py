"""What every page a story visits must pass, checked in the real browser:

* **axe-core** (installed from npm into ``tests/browser/node`` by ``.ci/run`` or by the fixture,
  injected from that file, never from a CDN): no violation of any impact;
* **touch targets** of at least 44 × 44 CSS px for everything a finger taps (links inside a sentence
  excepted, as WCAG 2.5.5 does);
* **no sideways scrolling**: the page is never wider than the screen (a table reads as cards on a phone);
* **one date format per language**: no ISO date (2016-02-23) among the page's own words; what people
  wrote (quoted reasons, notes, summaries: ``q``, ``.as-written``) and form values are theirs.

``audit(page, name)`` runs them all and saves the screenshot ``artifacts/screenshots/<name>.png``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from playwright.sync_api import Page

REPO = Path(__file__).resolve().parents[2]
NODE = REPO / "tests" / "browser" / "node"
AXE = NODE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "artifacts" / "screenshots"
MIN_TARGET = 44


def axe_source() -> str:
    """axe-core's file, installed from the committed lock file when it is not there yet."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("axe-core is missing and there is no npm to install it (apt-get install npm)")
        subprocess.run([npm, "ci", "--prefix", str(NODE), "--no-audit", "--no-fund", "--silent"], check=True)
    return AXE.read_text(encoding="utf-8")


_AXE_CACHE: dict[str, str] = {}


def axe_violations(page: Page) -> list[dict]:
    if "source" not in _AXE_CACHE:
        _AXE_CACHE["source"] = axe_source()
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Through the DevTools protocol, as a debugger would: the page's Content-Security-Policy
        # (no inline script) stays on for the page itself, and axe runs beside it.
        cdp = page.context.new_cdp_session(page)
        try:
            answer = cdp.send("Runtime.evaluate", {"expression": _AXE_CACHE["source"]})
            if "exceptionDetails" in answer:
                raise RuntimeError(f"axe-core did not load: {answer['exceptionDetails']}")
        finally:
            cdp.detach()
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
    }""")
    return list(result)


_TARGETS_JS = """(min) => {
  const small = [];
  const seen = new Set();
  const inSentence = (el) => {
    if (getComputedStyle(el).display !== 'inline') return false;
    const block = el.closest('p, .prose li, .hint, figcaption, label, legend');
    if (!block) return false;
    return block.textContent.trim().length > el.textContent.trim().length + 1;
  };
  for (const el of document.querySelectorAll(
      'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]')) {
    let target = el;
    if (el.matches('input[type=radio], input[type=checkbox]')) target = el.closest('label') || el;
    if (seen.has(target)) continue;
    seen.add(target);
    const r = target.getBoundingClientRect();
    const style = getComputedStyle(target);
    if (r.width === 0 || r.height === 0 || style.visibility === 'hidden' || r.right < 0 || r.bottom < 0) continue;
    if (el.closest('[hidden], details:not([open]) > :not(summary)')) continue;
    if (target === el && inSentence(el)) continue;
    if (r.width < min - 0.5 || r.height < min - 0.5) {
      small.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.value || el.name || '').trim().slice(0, 30)}"`
                 + ` ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return small;
}"""


def small_targets(page: Page) -> list[str]:
    return list(page.evaluate(_TARGETS_JS, MIN_TARGET))


def overflow(page: Page) -> int:
    """How many CSS px the page is wider than the screen (0: nothing to swipe sideways)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth"))


_ISO_DATES_JS = r"""() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (!parent || parent.closest('q, .as-written, code, script, style, textarea, [hidden]')) continue;
    const m = node.textContent.match(/\b\d{4}-\d{2}-\d{2}\b/);
    if (m) found.push(`${m[0]} in <${parent.tagName.toLowerCase()}> "${node.textContent.trim().slice(0, 60)}"`);
  }
  return found;
}"""


def iso_dates(page: Page) -> list[str]:
    return list(page.evaluate(_ISO_DATES_JS))


def audit(page: Page, name: str, *, dates: bool = True) -> None:
    """Every check above on the page as it is now, then its screenshot."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    problems = []
    violations = axe_violations(page)
    if violations:
        problems.append("axe-core violations:\n" + json.dumps(violations, ensure_ascii=False, indent=1))
    small = small_targets(page)
    if small:
        problems.append(f"touch targets under {MIN_TARGET} px: " + "; ".join(small))
    wider = overflow(page)
    if wider > 0:
        problems.append(f"the page is {wider} px wider than the screen")
    if dates:
        found = iso_dates(page)
        if found:
            problems.append("ISO dates among the page's words: " + "; ".join(found))
    assert not problems, f"{name} ({page.url}):\n" + "\n".join(problems)
