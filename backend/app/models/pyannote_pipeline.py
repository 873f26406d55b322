"""Diarisation pyannote.audio 4 (`Pipeline`) dans le processus, à concurrence bornée."""

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app.core.audio import SAMPLE_RATE
from app.models.base import BaseModelWrapper
from app.models.torch_runtime import configure_threads, release_memory, torch_device

# La télémétrie de pyannote appelle le réseau au chargement et à chaque exécution.
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

logger = logging.getLogger(__name__)

ProgressHook = Callable[[str, float], None]


class PyannoteWrapper(BaseModelWrapper):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pipeline: Any = None
        self._slots = asyncio.Semaphore(self.settings.diarization_max_concurrency)

    async def _start(self, model_path: Path, gpu_device_ids: list[int]) -> None:
        self.pipeline = await asyncio.to_thread(self._load_pipeline, model_path, gpu_device_ids)

    def _load_pipeline(self, model_path: Path, gpu_device_ids: list[int]) -> Any:
        configure_threads(self.settings.torch_threads)
        from pyannote.audio import Pipeline

        if not (model_path / "config.yaml").is_file():
            raise FileNotFoundError(f"config.yaml absent de {model_path} : ce n'est pas un pipeline pyannote")
        token = self.settings.huggingface_token
        pipeline = Pipeline.from_pretrained(model_path, token=token.get_secret_value() if token else None)
        if pipeline is None:
            raise RuntimeError(f"pyannote n'a pas pu construire le pipeline depuis {model_path}")
        device = torch_device(gpu_device_ids)
        pipeline.to(device)
        logger.info("Modèle %s : pipeline pyannote chargé depuis %s sur %s", self.key, model_path, device)
        return pipeline

    async def _stop(self) -> None:
        if self.pipeline is not None:
            self.pipeline = None
            await asyncio.to_thread(release_memory)

    async def diarize(
        self,
        samples: np.ndarray,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        on_progress: ProgressHook | None = None,
    ) -> Any:
        """Renvoie la sortie de pyannote (`speaker_diarization`, `exclusive_speaker_diarization`,
        `speaker_embeddings`) ; appelé sous `use()`, au plus N à la fois."""
        async with self._slots:
            return await asyncio.to_thread(self._run, samples, num_speakers, min_speakers, max_speakers, on_progress)

    def _run(self, samples, num_speakers, min_speakers, max_speakers, on_progress) -> Any:
        import torch

        def hook(step: str, artifact: Any, file: Any = None, total: Any = None, completed: Any = None):
            if on_progress is not None:
                fraction = min(1.0, completed / total) if total and completed is not None else None
                on_progress(step, fraction)

        file = {"waveform": torch.from_numpy(samples).unsqueeze(0), "sample_rate": SAMPLE_RATE}
        with torch.inference_mode():
            return self.pipeline(
                file,
                num_speakers=num_speakers,
                min_speakers=min_speakers,
                max_speakers=max_speakers,
                hook=hook,
            )

    async def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        """Empreintes vocales (une ligne par extrait) du modèle d'empreintes du pipeline."""
        async with self._slots:
            return await asyncio.to_thread(self._embed, clips)

    def _embed(self, clips: list[np.ndarray]) -> np.ndarray:
        import torch

        embedding = self.pipeline._embedding
        rows = []
        with torch.inference_mode():
            for clip in clips:
                waveform = torch.from_numpy(clip)[None, None, :]
                rows.append(np.asarray(embedding(waveform))[0])
        return np.stack(rows)
