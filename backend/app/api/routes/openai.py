"""Routes compatibles OpenAI : conversation, complétion, liste des modèles."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.api.deps import require_api_key
from app.api.protocol import ChatCompletionRequest, CompletionRequest
from app.api.streaming import proxy_response

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)], tags=["OpenAI"])


@router.post("/chat/completions", summary="Conversation (texte et images), flux SSE possible")
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    request.state.model = body.model
    reply = await request.app.state.chat.forward("/v1/chat/completions", body.model_dump(exclude_unset=True))
    return proxy_response(reply)


@router.post("/completions", summary="Complétion de texte, flux SSE possible")
async def completions(body: CompletionRequest, request: Request) -> Response:
    request.state.model = body.model
    reply = await request.app.state.chat.forward("/v1/completions", body.model_dump(exclude_unset=True))
    return proxy_response(reply)


@router.get("/models", summary="Modèles configurés et leur état")
async def list_models(request: Request) -> dict:
    registry = request.app.state.registry
    return {
        "object": "list",
        "data": [
            {
                "id": wrapper.key,
                "object": "model",
                "created": int(wrapper.state_since),
                "owned_by": "passerelle",
                "kind": wrapper.spec.kind.value,
                "state": wrapper.state.value,
                "aliases": wrapper.spec.names[1:],
            }
            for wrapper in registry.wrappers()
        ],
    }
