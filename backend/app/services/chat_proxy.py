"""Relais des requêtes OpenAI de conversation et de complétion vers le serveur vLLM enfant."""

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from app.core.errors import EngineUnavailable, UpstreamError
from app.models.base import BaseModelWrapper
from app.models.registry import ModelRegistry
from app.models.spec import ModelKind

logger = logging.getLogger(__name__)


def sse_error(message: str, error_type: str = "server_error", code: str | None = None) -> bytes:
    """Erreur dans un flux déjà commencé : un événement d'erreur puis `[DONE]`."""
    body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return b"\n\ndata: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\ndata: [DONE]\n\n"


def upstream_error(status_code: int, content: bytes) -> UpstreamError:
    """Met l'erreur du moteur dans l'enveloppe OpenAI, avec un message en français."""
    try:
        payload = json.loads(content)
        error = payload.get("error", payload) if isinstance(payload, dict) else {}
        if not isinstance(error, dict):
            error = {"message": str(error)}
    except ValueError:
        error = {"message": content.decode("utf-8", "replace")[:500]}
    detail = error.get("message") or f"statut HTTP {status_code}"
    error_type = "invalid_request_error" if status_code < 500 else "server_error"
    code = error.get("code")
    return UpstreamError(
        status_code,
        f"Requête refusée par le moteur vLLM : {detail}",
        error_type=error_type,
        param=error.get("param"),
        code=code if isinstance(code, str) else None,
    )


@dataclass
class ProxyReply:
    """Réponse complète (`content`) ou flux SSE (`stream`)."""

    status_code: int
    content: bytes | None = None
    stream: "UpstreamStream | None" = None


class UpstreamStream:
    """Flux SSE du moteur relayé morceau par morceau ; `aclose()` libère tout, une fois."""

    def __init__(self, response: httpx.Response, wrapper: BaseModelWrapper):
        self._response = response
        self._wrapper = wrapper
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            logger.warning("Modèle %s : flux interrompu par le moteur (%s)", self._wrapper.key, exc)
            yield sse_error(
                f"Le moteur de « {self._wrapper.key} » a interrompu la réponse ; réessayez.",
                code="engine_unavailable",
            )

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._response.aclose()  # ferme la connexion : vLLM annule la génération
            self._wrapper.release()


class ChatProxy:
    def __init__(self, registry: ModelRegistry, client: httpx.AsyncClient):
        self.registry = registry
        self.client = client

    async def forward(self, path: str, body: dict[str, Any]) -> ProxyReply:
        """Envoie `body` au moteur du modèle nommé ; `path` vaut `/v1/chat/completions`..."""
        wrapper = self.registry.resolve(body["model"], ModelKind.CHAT)
        body["model"] = wrapper.key  # nom servi par le moteur enfant
        wrapper.acquire()
        try:
            request = self.client.build_request(
                "POST",
                f"{wrapper.base_url}{path}",
                content=json.dumps(body, ensure_ascii=False).encode(),
                headers={"content-type": "application/json"},
            )
            response = await self.client.send(request, stream=True)
        except BaseException as exc:
            wrapper.release()
            if isinstance(exc, httpx.TransportError):
                raise self._unavailable(wrapper, exc) from exc
            raise
        stream = UpstreamStream(response, wrapper)
        if response.status_code == 200 and body.get("stream"):
            return ProxyReply(200, stream=stream)
        try:
            content = await response.aread()
        except httpx.TransportError as exc:
            raise self._unavailable(wrapper, exc) from exc
        finally:
            await stream.aclose()
        if response.status_code >= 400:
            raise upstream_error(response.status_code, content)
        return ProxyReply(response.status_code, content=content)

    @staticmethod
    def _unavailable(wrapper: BaseModelWrapper, exc: Exception) -> EngineUnavailable:
        logger.warning("Modèle %s : moteur injoignable (%s)", wrapper.key, exc)
        return EngineUnavailable(
            f"Le moteur de « {wrapper.key} » ne répond pas ; il redémarre peut-être. "
            "Consultez /api/admin/status puis réessayez."
        )
