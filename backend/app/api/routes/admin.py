"""Routes d'administration : état, chargement et déchargement des modèles."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.deps import require_admin_key

router = APIRouter(
    prefix="/api/admin",
    dependencies=[Depends(require_admin_key)],
    tags=["Administration"],
)


class LoadRequest(BaseModel):
    gpu_device_ids: list[int] | None = None
    """GPU à utiliser ; par défaut ceux du registre. Vide : CPU."""


@router.get("/status", summary="État des modèles et de la passerelle")
async def status(request: Request) -> dict:
    settings = request.app.state.settings
    return {
        "profile": settings.model_profile,
        "open_access": not settings.openai_api_keys,
        "models": request.app.state.registry.snapshots(),
    }


@router.post("/models/{key}/load", status_code=202, summary="Charge un modèle en arrière-plan")
async def load_model(key: str, request: Request, body: LoadRequest | None = None) -> JSONResponse:
    registry = request.app.state.registry
    wrapper = registry.start_load(key, body.gpu_device_ids if body else None)
    return JSONResponse(wrapper.snapshot(), status_code=202)


@router.post(
    "/models/{key}/unload",
    status_code=202,
    summary="Décharge un modèle après les requêtes en cours",
)
async def unload_model(key: str, request: Request) -> JSONResponse:
    wrapper = request.app.state.registry.start_unload(key)
    return JSONResponse(wrapper.snapshot(), status_code=202)
