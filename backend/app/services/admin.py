"""Administration : placement sur les GPU, état complet de la passerelle."""

import asyncio
import time
from typing import Any

from app import __version__
from app.core.errors import GatewayError, InvalidRequest
from app.core.settings import Settings
from app.models.base import BaseModelWrapper, ModelState
from app.models.registry import ModelRegistry
from app.monitoring.dependencies import cached_dependencies
from app.monitoring.gpu import GPUMonitor
from app.monitoring.system import system_snapshot
from app.services.hf_token import TokenStore

GB = 1e9


class InsufficientVram(GatewayError):
    status_code = 409
    error_type = "invalid_request_error"
    code = "insufficient_vram"


def vram_need(wrapper: BaseModelWrapper, total_bytes: int | None) -> float | None:
    """Octets libres exigés sur chaque GPU : vLLM réserve `gpu_memory_utilization` x total."""
    spec = wrapper.spec
    if spec.engine == "vllm" and total_bytes:
        return float(spec.engine_args.get("gpu_memory_utilization", 0.9)) * total_bytes
    return spec.vram_gb * GB if spec.vram_gb else None


class AdminService:
    def __init__(self, registry: ModelRegistry, gpu: GPUMonitor, tokens: TokenStore, settings: Settings):
        self.registry = registry
        self.gpu = gpu
        self.tokens = tokens
        self.settings = settings
        self.started_at = time.time()

    def check_placement(self, wrapper: BaseModelWrapper, gpu_device_ids: list[int]) -> None:
        """Refuse des GPU absents ou en double, ou une mémoire libre insuffisante."""
        if len(set(gpu_device_ids)) != len(gpu_device_ids):
            raise InvalidRequest("gpu_device_ids contient des doublons.", param="gpu_device_ids")
        present = self.gpu.device_indexes()
        missing = [index for index in gpu_device_ids if index not in present]
        if missing:
            where = f"GPU présents : {present}" if present else f"aucun GPU détecté ({self.gpu.reason})"
            raise InvalidRequest(f"GPU inexistants : {missing}. {where}.", param="gpu_device_ids")
        already = wrapper.state is ModelState.READY and set(gpu_device_ids) <= set(wrapper.gpu_device_ids)
        if already:
            return
        devices = {device["index"]: device for device in self.gpu.snapshot()["devices"]}
        for index in gpu_device_ids:
            device = devices.get(index, {})
            need, free = vram_need(wrapper, device.get("total")), device.get("free")
            if need is not None and free is not None and free < need:
                raise InsufficientVram(
                    f"Mémoire insuffisante sur le GPU {index} pour « {wrapper.key} » : "
                    f"{free / GB:.1f} Go libres pour {need / GB:.1f} Go nécessaires. "
                    "Déchargez un modèle de ce GPU ou choisissez-en un autre."
                )

    async def status(self) -> dict[str, Any]:
        models = self.registry.snapshots()
        gpu = self.gpu.snapshot()
        for device in gpu["devices"]:
            device["models"] = [m["key"] for m in models if device["index"] in m["gpu_device_ids"]]
        dependencies, system = await asyncio.gather(
            asyncio.to_thread(cached_dependencies, gpu),
            asyncio.to_thread(system_snapshot, self.settings.model_cache_dir),
        )
        return {
            "gateway": {
                "version": __version__,
                "profile": self.settings.model_profile,
                "started_at": self.started_at,
                "uptime_s": round(time.time() - self.started_at, 1),
            },
            "security": {
                "open_access": not self.settings.openai_api_keys,
                "admin_open": not self.settings.effective_admin_keys,
            },
            "huggingface_token": self.tokens.status(),
            "gpu": gpu,
            "gpu_history": self.gpu.history(),
            "system": system,
            "dependencies": dependencies,
            "models": models,
        }
