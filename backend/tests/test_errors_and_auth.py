"""Erreurs : enveloppe OpenAI, messages en français, bons statuts ; clés d'API."""

import httpx
import openai
import pytest
from openai import OpenAI

from tests.conftest import ADMIN_KEY, API_KEY, bearer
from tests.images import image_message

CHAT = {"model": "qwen", "messages": [{"role": "user", "content": "Salut"}], "max_tokens": 2}


def assert_envelope(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    return error


def test_missing_key_is_401_in_french(http: httpx.Client):
    error = assert_envelope(http.post("/v1/chat/completions", json=CHAT), 401)
    assert "Clé d'API manquante" in error["message"]
    assert error["code"] == "invalid_api_key"


def test_wrong_key_is_401_through_the_sdk(gateway):
    client = OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-mauvaise", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.status_code == 401
    assert "Clé d'API invalide" in caught.value.message


def test_any_configured_key_is_accepted(http: httpx.Client):
    assert http.get("/v1/models", headers=bearer("autre-cle")).status_code == 200
    assert http.get("/v1/models", headers=bearer(API_KEY)).status_code == 200


def test_inference_key_does_not_open_admin_routes(http: httpx.Client):
    assert_envelope(http.get("/api/admin/status", headers=bearer(API_KEY)), 401)
    assert http.get("/api/admin/status", headers=bearer(ADMIN_KEY)).status_code == 200


def test_unknown_model_is_404(client: OpenAI):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-9", messages=CHAT["messages"])
    assert "Modèle inconnu" in caught.value.message
    assert caught.value.body["code"] == "model_not_found"


def test_missing_messages_is_422_envelope(http: httpx.Client):
    error = assert_envelope(http.post("/v1/chat/completions", json={"model": "qwen"}, headers=bearer(API_KEY)), 422)
    assert error["message"] == "Requête invalide : messages : champ obligatoire."
    assert error["param"] == "messages"


def test_wrong_types_are_422_envelope(http: httpx.Client):
    body = {"model": 12, "messages": "texte"}
    error = assert_envelope(http.post("/v1/chat/completions", json=body, headers=bearer(API_KEY)), 422)
    assert "model : doit être une chaîne de caractères" in error["message"]
    assert "messages : doit être une liste" in error["message"]


def test_malformed_json_is_400_envelope(http: httpx.Client):
    response = http.post(
        "/v1/chat/completions",
        content=b'{"model": "qwen", "messages": [',
        headers={**bearer(API_KEY), "Content-Type": "application/json"},
    )
    error = assert_envelope(response, 400)
    assert error["message"].startswith("Corps JSON invalide")
    assert error["code"] == "invalid_json"


def test_unknown_route_is_404_envelope(http: httpx.Client):
    error = assert_envelope(http.get("/v1/nulle-part", headers=bearer(API_KEY)), 404)
    assert error["message"] == "Route introuvable : /v1/nulle-part."


def test_broken_image_is_4xx_from_the_engine(client: OpenAI):
    broken = "data:image/png;base64,bm90IHVuZSBpbWFnZQ=="  # « pas une image »
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="qwen", messages=image_message(broken), max_tokens=2)
    assert caught.value.body["message"].startswith("Requête refusée par le moteur vLLM")


def test_engine_validation_errors_are_forwarded(client: OpenAI):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="qwen", messages=CHAT["messages"], max_tokens=100_000)
    assert caught.value.status_code == 400
    assert caught.value.body["message"].startswith("Requête refusée par le moteur vLLM : ")
    # La passerelle reste saine après le refus.
    assert client.chat.completions.create(model="qwen", messages=CHAT["messages"], max_tokens=1)


def test_health_and_ready(http: httpx.Client):
    assert http.get("/health").json() == {"status": "ok"}
    ready = http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
