"""`GET /metrics` au format Prometheus."""

import aiohttp
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

router = APIRouter(tags=["Exploitation"])


@router.get("/metrics", summary="Métriques Prometheus")
async def metrics(request: Request) -> Response:
    state = request.app.state
    for wrapper in state.registry.wrappers():
        url = getattr(wrapper, "base_url", None) if wrapper.engine_info() else None
        if url is None:
            continue
        try:  # jetons comptés par le moteur vLLM enfant
            async with state.session.get(f"{url}/metrics", timeout=aiohttp.ClientTimeout(total=2)) as reply:
                state.metrics.set_engine_tokens(wrapper.key, await reply.text())
        except (aiohttp.ClientError, TimeoutError):
            pass
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
