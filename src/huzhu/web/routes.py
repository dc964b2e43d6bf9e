"""The web portal's pages, mounted at ``/`` by ``huzhu.api.app.create_app``.

Server-rendered (Jinja2 + HTMX), calling the domain services directly; see ``core`` for the rules
every page follows (language, CSRF, errors as pages).
"""

from __future__ import annotations

from fastapi import APIRouter

from huzhu.web import engine_messages, member, public, staff

router = APIRouter(include_in_schema=False)
router.include_router(public.router)
router.include_router(member.router)
router.include_router(staff.router)

__all__ = ["router", "engine_messages"]
