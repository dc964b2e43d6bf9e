"""Languages of the web pages: Simplified Chinese by default, English on request.

The catalogs are the ``.po`` files under ``translations/`` (no compile step: they are read once at
start-up with Babel). Each locale gets its own Jinja2 environment with the i18n extension, so a
request never changes shared state. Money is always formatted from exact fen (``format_yuan``) and
then grouped per locale with Babel; dates and times use Babel's locale formats in China time.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request

from huzhu.clock import CHINA_TZ
from huzhu.money import format_yuan

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
TRANSLATIONS = HERE / "translations"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "lang"


def N_(message: str) -> str:  # noqa: N802 - the conventional marker for "translate later"
    """Mark a string for extraction without translating it here."""
    return message


@lru_cache
def translations(locale: str) -> Translations:
    """The locale's catalog, read from its ``.po`` file and compiled in memory (no ``.mo`` to ship)."""
    path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return Translations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out
    buffer.seek(0)
    return Translations(buffer)


def negotiate_locale(request: Request) -> str:
    """The ``lang`` cookie (or ``?lang=``) first, then ``Accept-Language``, else Chinese."""
    wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if wanted:
        chosen = normalise(wanted)
        if chosen:
            return chosen
    header = request.headers.get("accept-language", "")
    ranked = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            ranked.append((-quality, index, tag))
    for _q, _i, tag in sorted(ranked):
        chosen = normalise(tag)
        if chosen:
            return chosen
    return DEFAULT_LOCALE


def normalise(tag: str) -> str | None:
    tag = tag.strip().lower().replace("_", "-")
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None


# ---------------------------------------------------------------- formatting


def money(fen: int | None, locale: str, *, unit: bool = True) -> str:
    """Exact yuan from fen, grouped per locale: 10000000 → "100,000.00 元" / "¥100,000.00"."""
    if fen is None:
        return "—"
    number = format_decimal(Decimal(format_yuan(fen)), format="#,##0.00", locale=locale)
    if not unit:
        return number
    return f"{number} 元" if locale.startswith("zh") else f"¥{number}"


def fmt_date(value: date | datetime | None, locale: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(CHINA_TZ).date()
    return format_date(value, format="medium", locale=locale)


def fmt_datetime(value: datetime | None, locale: str) -> str:
    if value is None:
        return "—"
    return format_datetime(value.astimezone(CHINA_TZ), format="yyyy-MM-dd HH:mm", locale=locale)


def fmt_number(value: int | None, locale: str) -> str:
    return "—" if value is None else format_decimal(value, locale=locale)


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
    from huzhu.web.words import ENUMS, label  # noqa: PLC0415 - words needs this module's catalogs

    env.globals.update({enum.__name__: enum for enum in ENUMS})
    env.globals["label"] = lambda value: label(locale, value)
    return env


def gettext(locale: str, message: str, **params: object) -> str:
    text = translations(locale).gettext(message)
    return text % params if params else text
