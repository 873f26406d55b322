"""Placement d'un modèle sur les GPU : GPU inexistants, doublons, mémoire libre insuffisante
(moniteur GPU réel sur un NVML factice de deux GPU de 80 Gio, 79 et 78 Gio libres)."""

from pathlib import Path

import pytest

from app.core.errors import InvalidRequest
from app.core.settings import Settings
from app.models.base import ModelState
from app.models.registry import build_wrapper
from app.models.spec import ModelSpec
from app.monitoring.gpu import GPUMonitor
from app.services.admin import AdminService, InsufficientVram
from tests.fake_nvml import FakeNVML


@pytest.fixture
def admin(tmp_path: Path):
    monitor = GPUMonitor(interval_s=60, nvml=FakeNVML())
    monitor.start()
    settings = Settings(model_cache_dir=tmp_path)
    yield AdminService(None, monitor, None, settings), settings, tmp_path
    monitor.stop()


def wrapper(settings: Settings, directory: Path, engine: str, **extra):
    kinds = {"vllm": "chat", "nemo": "asr"}
    spec = ModelSpec.model_validate(
        {"key": "m", "kind": kinds[engine], "engine": engine, "source": {"local_dir": directory}, **extra}
    )
    return build_wrapper(spec, settings)


def test_unknown_and_duplicate_gpus_are_refused(admin):
    service, settings, directory = admin
    model = wrapper(settings, directory, "nemo")
    with pytest.raises(InvalidRequest, match=r"GPU inexistants : \[5\]\. GPU présents : \[0, 1\]"):
        service.check_placement(model, [0, 5])
    with pytest.raises(InvalidRequest, match="doublons"):
        service.check_placement(model, [1, 1])
    service.check_placement(model, [0, 1])
    service.check_placement(model, [])  # CPU


def test_vllm_needs_its_memory_utilisation_share_free(admin):
    service, settings, directory = admin
    greedy = wrapper(settings, directory, "vllm", engine_args={"gpu_memory_utilization": 0.99})
    with pytest.raises(InsufficientVram) as refused:
        service.check_placement(greedy, [0])
    assert refused.value.status_code == 409
    assert refused.value.message.startswith(
        "Mémoire insuffisante sur le GPU 0 pour « m » : 84.8 Go libres pour 85.0 Go"
    )
    service.check_placement(wrapper(settings, directory, "vllm", engine_args={"gpu_memory_utilization": 0.9}), [0, 1])


def test_declared_vram_need_is_checked_unless_already_placed(admin):
    service, settings, directory = admin
    heavy = wrapper(settings, directory, "nemo", vram_gb=84)
    with pytest.raises(InsufficientVram, match="GPU 1"):
        service.check_placement(heavy, [1])
    service.check_placement(heavy, [0])  # 84,8 Go libres sur le GPU 0
    heavy.state, heavy.gpu_device_ids = ModelState.READY, [1]
    service.check_placement(heavy, [1])  # déjà là : rien à réserver
