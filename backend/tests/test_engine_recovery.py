"""Mort du moteur vLLM : 503 clair, état `error`, puis rechargement par la route d'administration."""

import os
import signal
import time

import httpx
import openai
import pytest
from openai import OpenAI

from tests.conftest import ADMIN_KEY, API_KEY, admin_status, bearer

USER = [{"role": "user", "content": "Es-tu là ?"}]


@pytest.mark.disruptive
def test_killed_engine_gives_503_then_reload_recovers(gateway, client: OpenAI, http: httpx.Client):
    engine = admin_status(http)["qwen"]["engine_process"]
    body = {"model": "qwen", "messages": USER, "max_tokens": 3000, "ignore_eos": True, "stream": True}
    with httpx.stream(
        "POST", f"{gateway.url}/v1/chat/completions", json=body, headers=bearer(API_KEY), timeout=60
    ) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("data: ")
        os.kill(engine["pid"], signal.SIGKILL)
        events = [line for line in lines if line.startswith("data: ")]
    # Le flux en cours finit proprement : un événement d'erreur en français, puis [DONE].
    assert events[-1] == "data: [DONE]"
    assert "a interrompu la réponse" in events[-2]

    deadline = time.monotonic() + 30
    while admin_status(http)["qwen"]["state"] != "error" and time.monotonic() < deadline:
        time.sleep(0.2)
    status = admin_status(http)["qwen"]
    assert status["state"] == "error"
    assert "s'est arrêté de façon inattendue" in status["error"]
    assert status["inflight"] == 0

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="qwen", messages=USER, max_tokens=2)
    assert caught.value.status_code == 503
    assert "est en erreur" in caught.value.message
    assert caught.value.body["code"] == "model_not_ready"
    assert http.get("/ready").status_code == 503
    assert http.get("/ready").json()["not_ready"] == {"qwen": "error"}

    response = http.post("/api/admin/models/qwen/load", headers=bearer(ADMIN_KEY))
    assert response.status_code == 202
    gateway.wait_ready(600)
    new_engine = admin_status(http)["qwen"]["engine_process"]
    assert new_engine["pid"] != engine["pid"]
    completion = client.chat.completions.create(model="qwen", messages=USER, max_tokens=2)
    assert completion.usage.completion_tokens > 0


@pytest.mark.disruptive
def test_unload_then_load_through_admin_routes(gateway, client: OpenAI, http: httpx.Client):
    pid = admin_status(http)["qwen"]["engine_process"]["pid"]
    assert http.post("/api/admin/models/qwen/unload", headers=bearer(ADMIN_KEY)).status_code == 202
    deadline = time.monotonic() + 60
    while admin_status(http)["qwen"]["state"] != "downloaded" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert admin_status(http)["qwen"]["engine_process"] is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # le processus du moteur n'existe plus
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="qwen", messages=USER, max_tokens=2)
    assert caught.value.status_code == 503
    assert "n'est pas chargé" in caught.value.message

    assert http.post("/api/admin/models/qwen/load", headers=bearer(ADMIN_KEY)).status_code == 202
    gateway.wait_ready(600)
    assert client.chat.completions.create(model="qwen", messages=USER, max_tokens=2).choices


def test_admin_routes_reject_unknown_models(http: httpx.Client):
    response = http.post("/api/admin/models/inconnu/load", headers=bearer(ADMIN_KEY))
    assert response.status_code == 404
    assert "Modèle inconnu" in response.json()["error"]["message"]
