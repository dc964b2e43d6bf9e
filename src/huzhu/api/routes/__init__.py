"""The API router: each area contributes its routes under ``/api/v1``."""

from fastapi import APIRouter

from huzhu.api import auth

router = APIRouter()
router.include_router(auth.router)
