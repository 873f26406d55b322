"""Sondes de vie et de disponibilité."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["Exploitation"])


@router.get("/health", summary="Le processus répond")
async def health() -> dict:
    return {"status": "ok"}


@router.get("/ready", summary="200 quand chaque modèle à chargement automatique est prêt")
async def ready(request: Request) -> JSONResponse:
    ok, waiting = request.app.state.registry.readiness()
    if ok:
        return JSONResponse({"status": "ready", "not_ready": {}})
    message = "Modèles pas encore prêts : " + ", ".join(f"{k} ({s})" for k, s in waiting.items())
    body = {
        "status": "not_ready",
        "not_ready": waiting,
        "error": {
            "message": message,
            "type": "service_unavailable",
            "param": None,
            "code": "not_ready",
        },
    }
    return JSONResponse(body, status_code=503)
