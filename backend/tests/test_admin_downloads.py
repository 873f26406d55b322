"""Téléchargements depuis un faux Hub (HF_ENDPOINT) et jeton Hugging Face, à travers une passerelle
dédiée dont le registre ne contient que des modèles du Hub (aucun chargement automatique)."""

import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.fake_hub import FakeHub
from tests.gateway_process import GatewayProcess

ADMIN = {"Authorization": "Bearer sk-admin-hub"}
TOKEN = "hf_" + "JetonDeTestTresSecret0123456789AbCd"
REGISTRY = {
    "models": {
        "petit": {"kind": "asr", "engine": "nemo", "source": {"repo_id": "demo/petit"}},
        "restreint": {"kind": "asr", "engine": "nemo", "source": {"repo_id": "demo/restreint"}},
        "absent": {"kind": "asr", "engine": "nemo", "source": {"repo_id": "demo/inconnu"}},
    }
}


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as fake:
        yield fake


@pytest.fixture(scope="module")
def hub_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("hub-gateway")
    (home / "registry.yaml").write_text(json.dumps(REGISTRY), encoding="utf-8")
    return home


def start(home: Path, hub: FakeHub) -> GatewayProcess:
    env = {
        "MODEL_REGISTRY_FILE": str(home / "registry.yaml"),
        "MODEL_CACHE_DIR": str(home / "cache"),
        "LOG_DIR": str(home / "logs"),
        "ADMIN_API_KEYS": "sk-admin-hub",
        "HF_ENDPOINT": hub.url,
    }
    gateway = GatewayProcess(env, home / "gateway.log")
    gateway.env.pop("HUGGINGFACE_TOKEN", None)  # seul le jeton enregistré par la route compte ici
    gateway.start()
    gateway.wait_ready(120)
    return gateway


@pytest.fixture(scope="module")
def admin(hub_home: Path, hub: FakeHub):
    gateway = start(hub_home, hub)
    with httpx.Client(base_url=gateway.url, headers=ADMIN, timeout=60) as session:
        yield session
    gateway.stop()


def model(admin: httpx.Client, key: str) -> dict:
    return next(m for m in admin.get("/api/admin/status").json()["models"] if m["key"] == key)


def wait_for(admin: httpx.Client, key: str, states: set[str], timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = model(admin, key)
        if current["state"] in states:
            return current
        time.sleep(0.1)
    raise AssertionError(f"{key} : {model(admin, key)}")


def test_download_shows_progress_then_resumes_after_an_interruption(admin: httpx.Client, hub: FakeHub):
    assert model(admin, "petit")["state"] == "absent"
    hub.throttle_bps = 1_000_000
    hub.cut_at, hub.cut_file = 1_200_000, "model.safetensors"
    assert admin.post("/api/admin/models/petit/download").status_code == 202
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = model(admin, "petit")
        seen.append(current)
        if current["state"] == "error":
            break
        time.sleep(0.1)
    mid = [m["progress"] for m in seen if m["state"] == "downloading" and m["progress"].get("bytes_total")]
    assert any(0 < p["bytes_done"] < p["bytes_total"] for p in mid), mid[-3:]
    assert any(p["files_done"] >= 1 and p["speed_bps"] > 0 for p in mid)
    assert "injoignable" in seen[-1]["error"]

    hub.cut_at = None
    hub.throttle_bps = None
    assert admin.post("/api/admin/models/petit/download").status_code == 202
    done = wait_for(admin, "petit", {"downloaded", "error"})
    assert done["state"] == "downloaded", done["error"]
    ranges = [r.range for r in hub.file_requests("model.safetensors") if r.range]
    assert any(r.startswith("bytes=") and not r.startswith("bytes=0-") for r in ranges), ranges
    again = admin.post("/api/admin/models/petit/download")
    assert again.status_code == 202 and wait_for(admin, "petit", {"downloaded"})


def test_gated_and_missing_repos_get_french_errors(admin: httpx.Client):
    admin.post("/api/admin/models/restreint/download")
    error = wait_for(admin, "restreint", {"error"})["error"]
    assert "accès restreint" in error and "jeton" in error
    admin.post("/api/admin/models/absent/download")
    assert "introuvable" in wait_for(admin, "absent", {"error"})["error"]


def test_token_is_validated_persisted_masked_and_never_echoed(admin: httpx.Client, hub_home: Path, hub: FakeHub):
    unauthorised = httpx.post(f"{admin.base_url}/api/admin/huggingface/token", json={"token": TOKEN})
    assert unauthorised.status_code == 401
    bad = admin.post("/api/admin/huggingface/token", json={"token": "pas-un-jeton"})
    assert bad.status_code == 400 and TOKEN not in bad.text
    reply = admin.post("/api/admin/huggingface/token", json={"token": TOKEN})
    assert reply.status_code == 200
    assert TOKEN not in reply.text
    assert reply.json()["huggingface_token"] == {"set": True, "last4": TOKEN[-4:], "source": "file"}
    saved = hub_home / "cache" / ".huggingface_token"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    admin.post("/api/admin/models/restreint/download")  # le jeton part : refus « conditions »
    assert "acceptez ses conditions" in wait_for(admin, "restreint", {"error"})["error"]
    assert any(r.authenticated for r in hub.requests if "restreint" in r.path)

    status = admin.get("/api/admin/status").text
    assert TOKEN not in status
    logs = "".join(path.read_text(errors="replace") for path in (hub_home / "logs").glob("*.log"))
    assert TOKEN not in logs and TOKEN not in (hub_home / "gateway.log").read_text(errors="replace")

    # Après redémarrage, le jeton est toujours là.
    restarted = start(hub_home, hub)
    try:
        body = httpx.get(f"{restarted.url}/api/admin/status", headers=ADMIN, timeout=30).json()
        assert body["huggingface_token"] == {"set": True, "last4": TOKEN[-4:], "source": "file"}
        assert os.access(saved, os.R_OK)
    finally:
        restarted.stop()
