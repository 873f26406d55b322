"""Exceptions du domaine, traduites en enveloppe d'erreur OpenAI par `api.errors`."""


class GatewayError(Exception):
    """Erreur porteuse d'un statut HTTP et d'un message en français."""

    status_code = 500
    error_type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers


class InvalidRequest(GatewayError):
    status_code = 400
    error_type = "invalid_request_error"


class PayloadTooLarge(GatewayError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "file_too_large"


class AuthenticationFailed(GatewayError):
    status_code = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"


class ModelNotFound(GatewayError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "model_not_found"


class ModelNotReady(GatewayError):
    status_code = 503
    error_type = "service_unavailable"
    code = "model_not_ready"


class EngineUnavailable(GatewayError):
    status_code = 503
    error_type = "service_unavailable"
    code = "engine_unavailable"


class ModelOperationError(GatewayError):
    """Échec d'un chargement ou d'un déchargement (le message dit quoi faire)."""

    status_code = 500
    error_type = "server_error"
    code = "model_operation_failed"


class UpstreamError(GatewayError):
    """Erreur renvoyée par le moteur, relayée avec son statut."""

    def __init__(self, status_code: int, message: str, *, error_type: str, param, code):
        super().__init__(message, param=param)
        self.status_code = status_code
        self.error_type = error_type
        self.code = code
