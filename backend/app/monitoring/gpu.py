"""Surveillance des GPU NVIDIA par NVML dans un fil d'arrière-plan. Sans GPU (pas de bibliothèque
NVML, pas de pilote, aucun périphérique), le moniteur reste indisponible avec une raison : jamais d'exception."""

import copy
import logging
import threading
import time
from collections import deque
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

DEVICE_FIELDS = (
    "index", "name", "uuid", "total", "used", "free", "load", "memory_load",
    "temperature", "power_w", "power_limit_w", "processes",
)  # fmt: skip
HISTORY_FIELDS = ("load", "used", "temperature")


def _text(value: Any) -> str | None:
    """Les anciennes versions de pynvml renvoient des octets."""
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _watts(milliwatts: int | None) -> float | None:
    return None if milliwatts is None else round(milliwatts / 1000, 1)


def cuda_version_text(value: int) -> str:
    """12040 -> « 12.4 » (format de nvmlSystemGetCudaDriverVersion)."""
    return f"{value // 1000}.{value % 1000 // 10}"


class GPUMonitor:
    """Échantillonne NVML toutes les `interval_s` secondes ; garde `history` points par GPU."""

    def __init__(self, interval_s: float = 1.0, history: int = 300, nvml: ModuleType | Any = None):
        self.interval_s, self.available = interval_s, False
        self.reason: str | None = "surveillance GPU non démarrée"
        self._maxlen, self._nvml = history, nvml
        self._initialised = False
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread: threading.Thread | None = None
        self._static: dict[str, Any] = {"driver_version": None, "cuda_driver_version": None}
        self._devices: list[dict] = []
        self._history: dict[int, deque] = {}
        self._sampled_at: float | None = None
        self._failures = 0

    def start(self) -> None:
        """Initialise NVML, prend un premier échantillon et lance le fil (si au moins un GPU)."""
        if self._thread is not None or self._initialised:
            return
        count = self._init_nvml()
        if count:
            self._sample()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="gpu-monitor", daemon=True)
            self._thread.start()
            names = ", ".join(f"{d['index']}: {d['name']}" for d in self._devices)
            logger.info(
                "GPUMonitor started : %d GPU (pilote %s, CUDA %s, échantillon toutes les %.1f s) : %s",
                count, self._static["driver_version"], self._static["cuda_driver_version"], self.interval_s, names,
            )  # fmt: skip
        else:
            logger.info("GPUMonitor started : 0 GPU (NVML indisponible : %s)", self.reason)

    def stop(self) -> None:
        """Arrête le fil, attend sa fin et libère NVML ; sans effet si déjà arrêté."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=max(5.0, 3 * self.interval_s))
        if self._initialised:
            self._initialised = False
            try:
                self._nvml.nvmlShutdown()
            except Exception as exc:  # NVMLError ou autre : l'arrêt ne doit jamais échouer
                logger.warning("Arrêt de NVML : %s", exc)

    def _init_nvml(self) -> int:
        """Charge et initialise NVML ; renvoie le nombre de GPU (0 avec `reason` renseignée)."""
        self.available, self.reason = False, None
        if self._nvml is None:
            try:
                import pynvml
            except ImportError as exc:
                self.reason = f"module pynvml absent (paquet nvidia-ml-py) : {exc}"
                return 0
            self._nvml = pynvml
        nvml = self._nvml
        try:
            nvml.nvmlInit()
        except Exception as exc:  # NVMLError, mais aussi OSError d'une bibliothèque cassée
            self.reason = self._init_error(exc)
            return 0
        self._initialised = True
        queries = {
            "driver_version": lambda: _text(nvml.nvmlSystemGetDriverVersion()),
            "cuda_driver_version": lambda: cuda_version_text(int(nvml.nvmlSystemGetCudaDriverVersion())),
        }
        for key, query in queries.items():
            try:
                self._static[key] = query()
            except nvml.NVMLError:
                self._static[key] = None
        try:
            count = nvml.nvmlDeviceGetCount()
        except nvml.NVMLError as exc:
            self.reason = f"impossible de compter les GPU : {exc}"
            return 0
        if not count:
            self.reason = "aucun GPU NVIDIA détecté par NVML"
            return 0
        self.available = True
        return count

    def _init_error(self, exc: Exception) -> str:
        nvml, code = self._nvml, getattr(exc, "value", None)
        known = {
            getattr(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", 12): "bibliothèque NVML introuvable "
            "(libnvidia-ml.so absente : pas de pilote NVIDIA sur cette machine)",
            getattr(nvml, "NVML_ERROR_DRIVER_NOT_LOADED", 9): "pilote NVIDIA non chargé",
            getattr(nvml, "NVML_ERROR_NO_PERMISSION", 4): "accès à NVML refusé (permissions)",
        }
        return known.get(code, f"échec de l'initialisation de NVML : {exc}")

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        try:
            count = self._nvml.nvmlDeviceGetCount()
            devices = [self._read_device(index) for index in range(count)]
        except Exception as exc:  # le fil de surveillance ne doit pas mourir
            self._failures += 1
            if self._failures == 1:
                logger.warning("Échantillonnage NVML en échec : %s", exc)
            return
        self._failures = 0
        now = time.time()
        with self._lock:
            self._devices, self._sampled_at = devices, now
            for device in devices:
                points = self._history.setdefault(device["index"], deque(maxlen=self._maxlen))
                points.append({"t": now} | {key: device[key] for key in HISTORY_FIELDS})

    def _read_device(self, index: int) -> dict:
        """Chaque requête NVML est protégée : un champ non pris en charge vaut None."""
        nvml = self._nvml

        def field(query, *args):
            try:
                return query(*args)
            except nvml.NVMLError:
                return None

        handle = field(nvml.nvmlDeviceGetHandleByIndex, index)
        if handle is None:
            return dict.fromkeys(DEVICE_FIELDS) | {"index": index, "processes": []}
        memory, rates = field(nvml.nvmlDeviceGetMemoryInfo, handle), field(nvml.nvmlDeviceGetUtilizationRates, handle)
        power, limit = field(nvml.nvmlDeviceGetPowerUsage, handle), field(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
        name, uuid = field(nvml.nvmlDeviceGetName, handle), field(nvml.nvmlDeviceGetUUID, handle)
        processes = field(nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
        sensor = getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
        return {
            "index": index, "name": _text(name), "uuid": _text(uuid),
            "total": getattr(memory, "total", None), "used": getattr(memory, "used", None),
            "free": getattr(memory, "free", None),
            "load": getattr(rates, "gpu", None), "memory_load": getattr(rates, "memory", None),
            "temperature": field(nvml.nvmlDeviceGetTemperature, handle, sensor),
            "power_w": _watts(power), "power_limit_w": _watts(limit),
            "processes": [{"pid": p.pid, "used": getattr(p, "usedGpuMemory", None)} for p in processes],
        }  # fmt: skip

    def snapshot(self) -> dict:
        """Dernier échantillon (copie indépendante, lecture sûre depuis n'importe quel fil)."""
        with self._lock:
            state = {"available": self.available, "reason": self.reason, **self._static}
            return state | {"devices": copy.deepcopy(self._devices), "sampled_at": self._sampled_at}

    def history(self) -> dict[int, list[dict]]:
        """Historique borné par GPU : `{index: [{"t", "load", "used", "temperature"}, ...]}`."""
        with self._lock:
            return {index: [dict(point) for point in points] for index, points in self._history.items()}

    def device_indexes(self) -> list[int]:
        with self._lock:
            return [device["index"] for device in self._devices]

    def free_memory(self, index: int) -> int | None:
        """Mémoire libre (octets) du GPU `index` au dernier échantillon ; None s'il est inconnu."""
        with self._lock:
            return next((device["free"] for device in self._devices if device["index"] == index), None)
