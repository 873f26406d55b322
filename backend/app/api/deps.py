"""Dépendances FastAPI : clés d'API et accès aux services tenus par `app.state`."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.security import check_api_key

bearer = HTTPBearer(auto_error=False, description="Clé d'API de la passerelle")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials.strip() if credentials else None


async def require_api_key(request: Request, credentials: Credentials) -> None:
    check_api_key(_token(credentials), request.app.state.settings.openai_api_keys)


async def require_admin_key(request: Request, credentials: Credentials) -> None:
    check_api_key(_token(credentials), request.app.state.settings.effective_admin_keys)
