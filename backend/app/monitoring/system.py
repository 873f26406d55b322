"""Instantané du système hôte : CPU, mémoire, disque du cache de modèles, processus de la passerelle."""

import logging
import os
import time
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

_PROCESS = psutil.Process()
# Les pourcentages CPU de psutil se mesurent entre deux appels : un premier appel à l'import
# sert de référence, les instantanés suivants donnent la charge depuis l'appel précédent.
psutil.cpu_percent(interval=None)
_PROCESS.cpu_percent(interval=None)


def existing_parent(path: Path) -> Path:
    """Le dossier lui-même s'il existe, sinon son premier parent existant (cache pas encore créé)."""
    path = path.expanduser().absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or "/")


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):  # indisponible sur certaines plateformes
        return None


def _disk(model_cache_dir: Path) -> dict:
    measured = existing_parent(Path(model_cache_dir))
    try:
        usage = psutil.disk_usage(str(measured))
    except OSError as exc:
        logger.warning("Espace disque de %s illisible : %s", measured, exc)
        return {"path": str(model_cache_dir), "measured_path": str(measured), "error": str(exc)}
    return {
        "path": str(model_cache_dir),
        "measured_path": str(measured),
        "exists": Path(model_cache_dir).exists(),
        "total": usage.total,
        "used": usage.used,
        "free": usage.free,
        "percent": usage.percent,
    }


def system_snapshot(model_cache_dir: Path) -> dict:
    """CPU, RAM, disque du cache de modèles (ou de son premier parent existant), processus, durées."""
    now = time.time()
    memory = psutil.virtual_memory()
    with _PROCESS.oneshot():
        process = {
            "pid": _PROCESS.pid,
            "rss": _PROCESS.memory_info().rss,
            "cpu_percent": _PROCESS.cpu_percent(interval=None),
            "threads": _PROCESS.num_threads(),
            "started_at": _PROCESS.create_time(),
        }
    return {
        "cpu": {
            "percent": psutil.cpu_percent(interval=None),
            "count": psutil.cpu_count(),
            "physical_count": psutil.cpu_count(logical=False),
            "load_average": _load_average(),
        },
        "memory": {
            "total": memory.total,
            "used": memory.used,
            "available": memory.available,
            "percent": memory.percent,
        },
        "disk": _disk(model_cache_dir),
        "process": process,
        "uptime": {
            "process_s": round(now - process["started_at"], 1),
            "system_s": round(now - psutil.boot_time(), 1),
        },
        "sampled_at": now,
    }
