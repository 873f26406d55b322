"""Routes d'administration : état, téléchargement, chargement, jeton Hugging Face, événements."""

import asyncio
import json
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from app.api.deps import require_admin_key
from app.api.streaming import SSE_HEADERS

router = APIRouter(prefix="/api/admin", dependencies=[Depends(require_admin_key)], tags=["Administration"])
logger = logging.getLogger(__name__)
KEEPALIVE_S = 15.0
GPU_EVENT_S = 2.0


class LoadRequest(BaseModel):
    gpu_device_ids: list[int] | None = None
    """GPU à utiliser ; par défaut ceux du registre. Liste vide : CPU."""


class TokenRequest(BaseModel):
    token: str = Field(min_length=1)


@router.get("/status", summary="GPU, système, dépendances et modèles")
async def status(request: Request) -> dict:
    return await request.app.state.admin.status()


@router.post("/models/{key}/download", status_code=202, summary="Télécharge un modèle en arrière-plan")
async def download_model(key: str, request: Request) -> JSONResponse:
    registry = request.app.state.registry
    wrapper = registry.get(key)
    request.state.model = key
    if wrapper.spec.source.is_local:
        message = f"Le modèle « {key} » est local ({wrapper.spec.source.local_dir}) : rien à télécharger."
        return JSONResponse({"message": message, "model": wrapper.snapshot()})
    logger.info("Action d'administration : téléchargement de %s", key)
    registry.start_download(key)
    return JSONResponse({"message": f"Téléchargement de « {key} » lancé.", "model": wrapper.snapshot()}, 202)


@router.post("/models/{key}/load", status_code=202, summary="Charge un modèle (GPU au choix) en arrière-plan")
async def load_model(key: str, request: Request, body: LoadRequest | None = None) -> JSONResponse:
    state = request.app.state
    wrapper = state.registry.get(key)
    request.state.model = key
    gpus = body.gpu_device_ids if body and body.gpu_device_ids is not None else wrapper.spec.gpu_device_ids
    state.admin.check_placement(wrapper, gpus)
    logger.info("Action d'administration : chargement de %s sur GPU %s", key, gpus or "aucun (CPU)")
    state.registry.start_load(key, gpus)
    return JSONResponse({"message": f"Chargement de « {key} » lancé.", "model": wrapper.snapshot()}, 202)


@router.post("/models/{key}/unload", status_code=202, summary="Décharge un modèle après les requêtes en cours")
async def unload_model(key: str, request: Request) -> JSONResponse:
    registry = request.app.state.registry
    wrapper = registry.get(key)
    request.state.model = key
    logger.info("Action d'administration : déchargement de %s", key)
    registry.start_unload(key)
    return JSONResponse({"message": f"Déchargement de « {key} » lancé.", "model": wrapper.snapshot()}, 202)


@router.post("/huggingface/token", summary="Enregistre le jeton Hugging Face (jamais renvoyé)")
async def set_token(body: TokenRequest, request: Request) -> dict:
    tokens = request.app.state.tokens
    tokens.set(body.token)
    logger.info("Action d'administration : jeton Hugging Face remplacé")
    return {"message": "Jeton Hugging Face enregistré.", "huggingface_token": tokens.status()}


@router.delete("/huggingface/token", summary="Efface le jeton Hugging Face enregistré")
async def clear_token(request: Request) -> dict:
    tokens = request.app.state.tokens
    tokens.clear()
    logger.info("Action d'administration : jeton Hugging Face effacé")
    return {"message": "Jeton Hugging Face effacé.", "huggingface_token": tokens.status()}


def _sse(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@router.get("/events", summary="Flux SSE des changements d'état, de la progression et des GPU")
async def events(request: Request) -> StreamingResponse:
    state = request.app.state

    async def stream():
        async with state.events.subscribe() as queue:
            yield _sse("snapshot", {"models": state.registry.snapshots(), "gpu": state.gpu.snapshot()})
            loop = asyncio.get_running_loop()
            next_gpu = loop.time() + GPU_EVENT_S
            while True:
                timeout = min(KEEPALIVE_S, max(0.0, next_gpu - loop.time()))
                try:
                    event = await asyncio.wait_for(queue.get(), timeout)
                    yield _sse(event["type"], event)
                except TimeoutError:
                    if loop.time() >= next_gpu:
                        next_gpu = loop.time() + GPU_EVENT_S
                        yield _sse("gpu", state.gpu.snapshot())
                    else:
                        yield b": ping\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)
