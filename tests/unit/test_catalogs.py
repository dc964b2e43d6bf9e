"""Every text the pages mark for translation (``_()`` in the templates and the page modules,
``N_()`` labels) has its Chinese, and an entry in the English catalog and the template catalog: a
string added without one would show English on a Chinese page."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from huzhu.apportionment.shares import published_rule
from huzhu.web.i18n import gettext

WEB = Path(__file__).resolve().parents[2] / "src" / "huzhu" / "web"
CATALOGS = {"zh_CN": WEB / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po",
            "en": WEB / "translations" / "en" / "LC_MESSAGES" / "messages.po",
            "pot": WEB / "translations" / "messages.pot"}


def marked() -> dict[str, str]:
    """Every marked text → where it is (the first place)."""
    found: dict[str, str] = {}
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(WEB), method_map, options_map=options, keywords={"_": None, "gettext": None, "N_": None}):
        text = message if isinstance(message, str) else message[0]
        found.setdefault(text, f"{filename}:{lineno}")
    return found


def entries(name: str) -> dict[str, str]:
    with CATALOGS[name].open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id and not m.context}


def test_every_marked_text_is_in_every_catalog_with_chinese() -> None:
    texts = marked()
    assert len(texts) > 500, "the extraction found too little: is it still reading the templates?"
    chinese, english, template = entries("zh_CN"), entries("en"), entries("pot")
    missing = {t: where for t, where in texts.items() if not chinese.get(t)}
    assert not missing, "no Chinese for:\n" + "\n".join(f"{where}: {t!r}" for t, where in missing.items())
    assert not [t for t in texts if t not in english], "missing from en/messages.po"
    assert not [t for t in texts if t not in template], "missing from messages.pot"


def test_the_published_leftover_rule_reads_in_chinese() -> None:
    """The rule stays English in the public record; the run page shows it in the reader's language."""
    rule = published_rule()
    assert gettext("zh_CN", rule) != rule and "起点会员号" in gettext("zh_CN", rule)
    assert gettext("en", rule) == rule


def test_every_job_step_reads_in_chinese() -> None:
    """The admin's run panel shows each step the jobs report (``progress("…")``) in the reader's
    language: a step added without its Chinese would show English on the Chinese panel."""
    import re

    src = WEB.parent
    steps = {m for path in (src / "jobs.py", src / "banking" / "jobs.py")
             for m in re.findall(r'progress\("([^"]+)"\)', path.read_text(encoding="utf-8"))}
    assert len(steps) >= 5, "found too few steps: is the pattern still right?"
    chinese = entries("zh_CN")
    assert sorted(step for step in steps if not chinese.get(step)) == []
