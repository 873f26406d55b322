"""Réponse SSE qui relaie un flux amont et le ferme quoi qu'il arrive."""

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from app.services.chat_proxy import ProxyReply, UpstreamStream

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class RelayResponse(StreamingResponse):
    """Si le client se déconnecte, Starlette annule l'envoi ; `finally` ferme l'amont."""

    def __init__(self, stream: UpstreamStream):
        super().__init__(stream, media_type="text/event-stream", headers=SSE_HEADERS)
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._stream.aclose()


def proxy_response(reply: ProxyReply) -> Response:
    if reply.stream is not None:
        return RelayResponse(reply.stream)
    return Response(reply.content, status_code=reply.status_code, media_type="application/json")
