"""Fabrique de l'application FastAPI et cycle de vie des ressources."""

import asyncio
import logging
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI

from app.api.errors import install_error_handlers
from app.api.observability import ObservabilityMiddleware
from app.api.routes import admin, audio, health, metrics, openai
from app.api.upload_limit import UploadLimitMiddleware
from app.core.logging import setup_logging
from app.core.settings import Settings
from app.models.registry import ModelRegistry
from app.monitoring.gpu import GPUMonitor
from app.monitoring.metrics import GatewayMetrics
from app.services.admin import AdminService
from app.services.attribution import AttributionService
from app.services.chat_proxy import ChatProxy
from app.services.diarization import DiarizationService
from app.services.events import EventBus
from app.services.hf_token import TokenStore
from app.services.transcription import TranscriptionService

logger = logging.getLogger(__name__)


def upstream_session(settings: Settings) -> aiohttp.ClientSession:
    """Client vers les moteurs enfants : pas de plafond de connexions (un flux = une connexion)."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=settings.upstream_timeout_s),
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
        auto_decompress=False,
    )


def announce_security(settings: Settings) -> None:
    if not settings.openai_api_keys:
        logger.warning("ACCÈS LIBRE : aucune clé OPENAI_API_KEYS, les routes d'inférence sont ouvertes")
    if not settings.effective_admin_keys:
        logger.warning("ACCÈS LIBRE : aucune clé d'administration, les routes /api/admin sont ouvertes")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.log_dir = setup_logging(settings.log_dir)
        state = app.state
        state.settings = settings
        state.tokens = TokenStore(settings)
        state.registry = registry = ModelRegistry.from_settings(settings)
        state.events = EventBus(asyncio.get_running_loop())
        registry.add_listener(state.events.publish)
        state.gpu = GPUMonitor()
        state.gpu.start()
        state.metrics = GatewayMetrics(registry, state.gpu)
        state.session = upstream_session(settings)
        state.chat = ChatProxy(registry, state.session)
        state.transcription = TranscriptionService(registry, settings)
        state.diarization = DiarizationService(registry)
        state.attribution = AttributionService(state.transcription, state.diarization, settings)
        state.admin = AdminService(registry, state.gpu, state.tokens, settings)
        announce_security(settings)
        logger.info(
            "Passerelle sur http://%s:%d (profil %s) ; modèles prêts quand GET /ready répond 200",
            settings.host, settings.port, settings.model_profile,
        )  # fmt: skip
        registry.autoload()
        yield
        logger.info("Arrêt de la passerelle : arrêt des moteurs")
        await registry.shutdown()
        await state.session.close()
        state.gpu.stop()

    app = FastAPI(
        title="Passerelle d'inférence unifiée",
        description="Conversation multimodale, transcription et diarisation, API OpenAI.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(UploadLimitMiddleware, max_bytes=int(settings.max_upload_mb * 1_000_000))
    app.add_middleware(ObservabilityMiddleware)
    for module in (openai, audio, health, admin, metrics):
        app.include_router(module.router)
    return app
