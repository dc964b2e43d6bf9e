"""The API's router: each area contributes its endpoints under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from huzhu.api import auth
from huzhu.api.routes import claims, complaints, custody, log, members, provable, public, staff
from huzhu.config import Settings


def build_api_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    router.include_router(auth.router)
    router.include_router(public.router)
    router.include_router(log.router)
    router.include_router(provable.router)
    router.include_router(provable.member_router)
    router.include_router(members.router)
    router.include_router(claims.router)
    router.include_router(complaints.router)
    router.include_router(staff.router)
    router.include_router(custody.router)
    if settings.sandbox:  # in production the sandbox endpoints do not exist (404)
        router.include_router(staff.sandbox_router)
    return router
