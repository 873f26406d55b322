"""Une seule enveloppe d'erreur, au format OpenAI, pour toutes les réponses d'erreur."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import GatewayError

logger = logging.getLogger(__name__)

HTTP_MESSAGES = {
    404: "Route introuvable : {path}.",
    405: "Méthode {method} non autorisée sur {path}.",
}
VALIDATION_MESSAGES = {
    "missing": "champ obligatoire",
    "string_type": "doit être une chaîne de caractères",
    "list_type": "doit être une liste",
    "dict_type": "doit être un objet JSON",
    "model_attributes_type": "doit être un objet JSON",
    "bool_type": "doit être un booléen",
    "bool_parsing": "doit être un booléen",
    "int_type": "doit être un entier",
    "int_parsing": "doit être un entier",
    "float_type": "doit être un nombre",
    "too_short": "ne doit pas être vide",
    "string_too_short": "ne doit pas être vide",
    "union_tag_invalid": "type non reconnu",
}


def error_response(
    status_code: int,
    message: str,
    error_type: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status_code, headers=headers)


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    loc = [str(part) for part in error.get("loc", ()) if part != "body"]
    field = ".".join(loc) or "corps"
    reason = VALIDATION_MESSAGES.get(error.get("type", ""), error.get("msg", "valeur invalide"))
    return field, f"{field} : {reason}"


async def _gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
    return error_response(exc.status_code, exc.message, exc.error_type, exc.param, exc.code, exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        detail = errors[0].get("ctx", {}).get("error", "")
        return error_response(
            400, f"Corps JSON invalide : {detail}".rstrip(" :"), "invalid_request_error",
            code="invalid_json",
        )  # fmt: skip
    described = [_describe(error) for error in errors]
    message = "Requête invalide : " + " ; ".join(text for _, text in described) + "."
    return error_response(422, message, "invalid_request_error", described[0][0] if described else None)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    template = HTTP_MESSAGES.get(exc.status_code)
    if template:
        message = template.format(path=request.url.path, method=request.method)
    else:
        message = str(exc.detail)
    error_type = "invalid_request_error" if exc.status_code < 500 else "server_error"
    return error_response(exc.status_code, message, error_type, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("Erreur inattendue sur %s %s", request.method, request.url.path)
    return error_response(
        500,
        "Erreur interne de la passerelle ; le détail est dans son journal.",
        "server_error",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
