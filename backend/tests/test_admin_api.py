"""Administration à travers HTTP avec les modèles de démonstration : état, métriques, événements,
cycles de chargement, drainage des requêtes en cours, jeton Hugging Face."""

import json
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from tests.conftest import ADMIN_KEY, API_KEY, admin_status, bearer, wait_until
from tests.speech import loop_to, make_dialogue

ADMIN = bearer(ADMIN_KEY)


def wait_state(http: httpx.Client, key: str, state: str, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        model = admin_status(http)[key]
        if model["state"] == state:
            return model
        time.sleep(0.2)
    raise AssertionError(f"{key} n'a pas atteint l'état {state} : {admin_status(http)[key]}")


def test_status_document(http: httpx.Client):
    body = http.get("/api/admin/status", headers=ADMIN).json()
    assert body["security"] == {"open_access": False, "admin_open": False}
    assert body["gpu"]["available"] is False and body["gpu"]["devices"] == []
    assert body["gpu"]["reason"]
    assert {"cpu", "memory", "disk"} <= set(body["system"])
    names = {dependency["name"] for dependency in body["dependencies"]}
    assert {"torch", "torchaudio", "torchcodec", "vllm", "nemo_toolkit", "pyannote.audio", "FFmpeg"} <= names
    assert all({"name", "version", "cuda", "details"} <= set(d) for d in body["dependencies"])
    models = {model["key"]: model for model in body["models"]}
    assert set(models) == {"qwen", "canary", "pyannote"}
    assert models["qwen"]["engine_process"]["pid"] > 0 and models["qwen"]["engine_process"]["port"] > 0
    for model in models.values():
        assert {"state", "progress", "gpu_device_ids", "inflight", "error"} <= set(model)


def test_metrics_after_traffic(http: httpx.Client, client: OpenAI):
    client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "Salut"}], max_tokens=3)
    http.post("/v1/chat/completions", json={"model": "absent", "messages": []}, headers=bearer(API_KEY))
    text = http.get("/metrics").text
    assert re.search(r'passerelle_requests_total\{model="qwen",route="/v1/chat/completions",status="200"\} [1-9]', text)
    assert 'passerelle_errors_total{model="-",route="/v1/chat/completions",status="422"}' in text
    assert 'passerelle_request_duration_seconds_bucket{le="0.5",model="qwen",route="/v1/chat/completions"}' in text
    assert 'passerelle_model_state{model="canary",state="ready"} 1.0' in text
    assert re.search(r'passerelle_tokens_total\{direction="out",model="qwen"\} [1-9]', text)
    assert 'passerelle_requests_in_flight{model="qwen"}' in text
    assert "passerelle_audio_seconds_total" in text or "passerelle_audio_seconds" in text


def test_invalid_gpu_ids_are_refused(http: httpx.Client):
    response = http.post("/api/admin/models/canary/load", json={"gpu_device_ids": [7]}, headers=ADMIN)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("GPU inexistants : [7]. aucun GPU détecté")
    assert admin_status(http)["canary"]["state"] == "ready"


def test_local_model_has_nothing_to_download(http: httpx.Client):
    response = http.post("/api/admin/models/pyannote/download", headers=ADMIN)
    assert response.status_code == 200
    assert "rien à télécharger" in response.json()["message"]


def test_unknown_or_path_like_keys_never_reach_the_disk(http: httpx.Client):
    for key in ["inconnu", "..%2F..%2Fetc", "%2Fetc%2Fpasswd"]:
        response = http.post(f"/api/admin/models/{key}/download", headers=ADMIN)
        assert response.status_code == 404, key


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("drain")
    return loop_to(make_dialogue(directory), 900, directory / "long.flac")


@pytest.mark.disruptive
def test_unload_drains_inflight_transcription_then_reload(gateway, http: httpx.Client, long_recording: Path):
    outcome = {}

    def transcribe():
        with long_recording.open("rb") as handle, httpx.Client(base_url=gateway.url, timeout=300) as session:
            outcome["response"] = session.post("/api/audio/transcribe", files={"file": handle}, headers=bearer(API_KEY))

    worker = threading.Thread(target=transcribe)
    worker.start()
    assert wait_until(lambda: admin_status(http)["canary"]["inflight"] == 1)
    assert http.post("/api/admin/models/canary/unload", headers=ADMIN).status_code == 202
    worker.join(300)
    assert outcome["response"].status_code == 200, outcome["response"].text
    assert outcome["response"].json()["duration"] == pytest.approx(900, abs=0.1)
    wait_state(http, "canary", "downloaded", 60)

    mark = gateway.log_path.stat().st_size
    with httpx.Client(base_url=gateway.url, timeout=60) as other:
        replies = []
        threads = [
            threading.Thread(target=lambda: replies.append(other.post("/api/admin/models/canary/load", headers=ADMIN)))
            for _ in range(2)
        ]
        [thread.start() for thread in threads]
        [thread.join() for thread in threads]
    assert [reply.status_code for reply in replies] == [202, 202]
    wait_state(http, "canary", "ready", 300)
    log = gateway.log_path.read_text(errors="replace")[mark:]
    assert log.count("Canary restauré") == 1, "deux chargements simultanés ne doivent en lancer qu'un"


@pytest.mark.disruptive
def test_event_stream_follows_a_load(gateway, http: httpx.Client):
    assert http.post("/api/admin/models/pyannote/unload", headers=ADMIN).status_code == 202
    wait_state(http, "pyannote", "downloaded", 60)
    seen: list[tuple[str, str]] = []

    def listen():
        with httpx.stream("GET", f"{gateway.url}/api/admin/events", headers=ADMIN, timeout=120) as stream:
            event = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "state":
                    model = json.loads(line[6:])["model"]
                    if model["key"] == "pyannote":
                        seen.append((event, model["state"]))
                        if model["state"] == "ready":
                            return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(1)
    assert http.post("/api/admin/models/pyannote/load", headers=ADMIN).status_code == 202
    listener.join(120)
    assert [state for _, state in seen] == ["loading", "ready"]
