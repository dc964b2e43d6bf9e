"""The Jinja2 environment of each language: the catalogs, the locale's formats for money, dates and
numbers, and the domain's states as globals with their translated labels."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale
from jinja2 import Environment, FileSystemLoader, select_autoescape

from huzhu.web.i18n import TEMPLATES, fmt_date, fmt_datetime, fmt_number, money, translations
from huzhu.web.words import ENUMS, label


@lru_cache
def environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "svg", "xml"], default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["locale"] = locale
    env.globals["lang"] = "zh-CN" if locale == "zh_CN" else "en"
    env.globals["is_zh"] = locale == "zh_CN"
    env.filters["money"] = lambda fen, unit=True: money(fen, locale, unit=unit)
    env.filters["date"] = lambda value: fmt_date(value, locale)
    env.filters["datetime"] = lambda value: fmt_datetime(value, locale)
    env.filters["number"] = lambda value: fmt_number(value, locale)
    env.globals["locale_name"] = Locale.parse(locale).get_display_name(locale)
    # The states as the models define them, so templates compare with ``ClaimStatus.PAID`` and not
    # a string; ``label(value)`` is a state's word in the page's language.
    env.globals.update({enum.__name__: enum for enum in ENUMS})
    env.globals["label"] = lambda value: label(locale, value)
    return env
