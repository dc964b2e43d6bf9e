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

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
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


# One date format per language, everywhere a page shows a date (a time of day follows it):
# 2016年2月23日 11:00 · 23 Feb 2016 11:00.
DATE_FORMATS = {"zh_CN": "y年M月d日", "en": "d MMM y"}


def fmt_date(value: date | datetime | None, locale: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(CHINA_TZ).date()
    return format_date(value, format=DATE_FORMATS.get(locale, DATE_FORMATS["en"]), locale=locale)


def fmt_datetime(value: datetime | None, locale: str) -> str:
    if value is None:
        return "—"
    local = value.astimezone(CHINA_TZ)
    return f"{fmt_date(local, locale)} {format_datetime(local, format='HH:mm', locale=locale)}"


def fmt_number(value: int | None, locale: str) -> str:
    return "—" if value is None else format_decimal(value, locale=locale)


def gettext(locale: str, message: str, **params: object) -> str:
    text = translations(locale).gettext(message)
    return text % params if params else text
