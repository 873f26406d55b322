"""Relais des requêtes OpenAI de conversation et de complétion vers le serveur vLLM enfant."""

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

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

    def __init__(self, response: aiohttp.ClientResponse, wrapper: BaseModelWrapper):
        self._response = response
        self._wrapper = wrapper
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("Modèle %s : flux interrompu par le moteur (%r)", self._wrapper.key, exc)
            yield sse_error(
                f"Le moteur de « {self._wrapper.key} » a interrompu la réponse ; réessayez.",
                code="engine_unavailable",
            )

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ChatProxy.unavailable(self._wrapper, exc) from exc
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._response.content.at_eof():
            self._response.release()  # connexion rendue au pool
        else:
            self._response.close()  # coupe la connexion : vLLM annule la génération
        self._wrapper.release()


class ChatProxy:
    def __init__(self, registry: ModelRegistry, session: aiohttp.ClientSession):
        self.registry = registry
        self.session = session

    async def forward(self, path: str, body: dict[str, Any]) -> ProxyReply:
        """Envoie `body` au moteur du modèle nommé ; `path` vaut `/v1/chat/completions`..."""
        wrapper = self.registry.resolve(body["model"], ModelKind.CHAT)
        body["model"] = wrapper.key  # nom servi par le moteur enfant
        wrapper.acquire()
        try:
            response = await self.session.post(
                f"{wrapper.base_url}{path}",
                data=json.dumps(body, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json"},
            )
        except BaseException as exc:
            wrapper.release()
            if isinstance(exc, aiohttp.ClientError | TimeoutError):
                raise self.unavailable(wrapper, exc) from exc
            raise
        stream = UpstreamStream(response, wrapper)
        if response.status == 200 and body.get("stream"):
            return ProxyReply(200, stream=stream)
        content = await stream.read()
        if response.status >= 400:
            raise upstream_error(response.status, content)
        return ProxyReply(response.status, content=content)

    @staticmethod
    def unavailable(wrapper: BaseModelWrapper, exc: BaseException) -> EngineUnavailable:
        logger.warning("Modèle %s : moteur injoignable (%r)", wrapper.key, exc)
        return EngineUnavailable(
            f"Le moteur de « {wrapper.key} » ne répond pas ; il redémarre peut-être. "
            "Consultez /api/admin/status puis réessayez."
        )
