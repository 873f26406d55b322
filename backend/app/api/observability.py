"""Intergiciel ASGI : identifiant de requête, journal d'accès et métriques par route."""

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.logging import request_id

logger = logging.getLogger("passerelle.acces")
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
QUIET_ROUTES = {"/health", "/ready", "/metrics", "/api/admin/status", "/api/admin/events"}


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if SAFE_ID.match(given) else uuid.uuid4().hex[:16]
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self._record(scope, status, elapsed)
            request_id.reset(token)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        app = scope.get("app")
        route = scope.get("route")
        template = getattr(route, "path", None) or "inconnue"
        state = getattr(app, "state", None)
        metrics = getattr(state, "metrics", None)
        if metrics is None:
            return
        model = state.registry.label_for(scope.get("state", {}).get("model"))
        metrics.observe(template, model, status, elapsed)
        if template not in QUIET_ROUTES or status >= 400:
            logger.info("%s %s -> %d en %.1f ms", scope["method"], scope["path"], status, elapsed * 1000)
