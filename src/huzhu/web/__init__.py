"""The web portal adapter: server-rendered pages (Jinja2 + HTMX) in Simplified Chinese by default and
English on request, for the public, members and staff. Pages parse the form, authorise, call one
domain service and render; they share the HTTP layer (``huzhu.http``) with the API and never
import it. The composition root (``huzhu.app``) mounts ``router`` at ``/`` and ``STATIC`` at ``/static``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from huzhu.web import custody, member, provable, public, staff
from huzhu.web.core import html_error_page as error_page

STATIC = Path(__file__).resolve().parent / "static"

router = APIRouter(include_in_schema=False)
router.include_router(public.router)
router.include_router(member.router)
router.include_router(provable.router)
router.include_router(staff.router)
router.include_router(custody.router)

__all__ = ["STATIC", "error_page", "router"]
