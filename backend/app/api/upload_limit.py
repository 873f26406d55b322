"""Refuse un envoi trop gros (413) d'après `Content-Length`, avant d'en lire un octet."""

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import error_response


class UploadLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_bytes:
                response = error_response(
                    413,
                    f"Fichier trop volumineux : {int(length) / 1e6:.0f} Mo pour "
                    f"{self.max_bytes / 1e6:.0f} Mo au plus (MAX_UPLOAD_MB).",
                    "invalid_request_error",
                    param="file",
                    code="file_too_large",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
