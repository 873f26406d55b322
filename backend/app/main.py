"""Fabrique de l'application FastAPI et cycle de vie des ressources."""

import logging
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI

from app.api.errors import install_error_handlers
from app.api.routes import admin, audio, health, openai
from app.api.upload_limit import UploadLimitMiddleware
from app.core.logging import setup_logging
from app.core.settings import Settings
from app.models.registry import ModelRegistry
from app.services.attribution import AttributionService
from app.services.chat_proxy import ChatProxy
from app.services.diarization import DiarizationService
from app.services.transcription import TranscriptionService

logger = logging.getLogger(__name__)


def upstream_session(settings: Settings) -> aiohttp.ClientSession:
    """Client vers les moteurs enfants : pas de plafond de connexions (un flux = une connexion)."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=settings.upstream_timeout_s),
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
        auto_decompress=False,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        setup_logging(settings.log_dir)
        registry = ModelRegistry.from_settings(settings)
        session = upstream_session(settings)
        app.state.settings = settings
        app.state.registry = registry
        app.state.chat = ChatProxy(registry, session)
        app.state.transcription = TranscriptionService(registry, settings)
        app.state.diarization = DiarizationService(registry)
        app.state.attribution = AttributionService(app.state.transcription, app.state.diarization, settings)
        if not settings.openai_api_keys:
            logger.warning("ACCÈS LIBRE : aucune clé OPENAI_API_KEYS, toutes les routes /v1 sont ouvertes")
        if not settings.effective_admin_keys:
            logger.warning("ACCÈS LIBRE : aucune clé d'administration, les routes /api/admin sont ouvertes")
        registry.autoload()
        yield
        logger.info("Arrêt de la passerelle : arrêt des moteurs")
        await registry.shutdown()
        await session.close()

    app = FastAPI(
        title="Passerelle d'inférence unifiée",
        description="Conversation multimodale, transcription et diarisation, API OpenAI.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(UploadLimitMiddleware, max_bytes=int(settings.max_upload_mb * 1_000_000))
    for module in (openai, audio, health, admin):
        app.include_router(module.router)
    return app
