"""Canary (NeMo `EncDecMultiTaskModel`) dans le processus, avec regroupement des requêtes en lots.

Les fenêtres audio de toutes les requêtes arrivent dans une file ; une tâche les
regroupe (au plus `ASR_MAX_BATCH_SIZE`, en attendant au plus `ASR_BATCH_WAIT_MS`)
et les transcrit par un seul appel `transcribe()` hors de la boucle d'événements.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.audio import SAMPLE_RATE
from app.core.errors import ModelNotReady, ModelOperationError
from app.models.base import BaseModelWrapper
from app.models.torch_runtime import configure_threads, release_memory, torch_device

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AsrOptions:
    source_lang: str
    target_lang: str
    punctuation: bool = True
    timestamps: bool = False


@dataclass
class AsrResult:
    text: str
    words: list[dict[str, Any]] = field(default_factory=list)
    """Mots `{word, start, end}` en secondes depuis le début du morceau (si horodatage)."""


@dataclass
class _Job:
    samples: np.ndarray
    options: AsrOptions
    future: asyncio.Future


def find_nemo_file(model_path: Path) -> Path:
    if model_path.is_file():
        return model_path
    candidates = sorted(model_path.glob("*.nemo"))
    if not candidates:
        raise FileNotFoundError(f"aucun fichier .nemo dans {model_path}")
    return candidates[0]


def _words(hypothesis: Any, clip_duration: float) -> list[dict[str, Any]]:
    """Mots horodatés en secondes, bornés au morceau (NeMo complète à 1 s les morceaux courts)."""
    stamps = hypothesis.timestamp if isinstance(hypothesis.timestamp, dict) else {}
    words = []
    for item in stamps.get("word", []):
        if "start" in item and "end" in item:
            start = min(max(float(item["start"]), 0.0), clip_duration)
            end = min(max(float(item["end"]), start), clip_duration)
            words.append({"word": item.get("word", ""), "start": start, "end": end})
    return words


class _DropNoise(logging.Filter):
    """Bruit de NeMo : « Chunking is disabled » à chaque lot (la passerelle découpe elle-même l'audio) et
    une « erreur » de hydra à chaque restauration, sans conséquence (classe remplacée par une fonction)."""

    NOISE = ("Chunking is disabled", "Error getting class at nemo.collections.asr.modules.transformer")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in self.NOISE)


class CanaryWrapper(BaseModelWrapper):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.model: Any = None
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    def queue_depth(self) -> int:
        return self._queue.qsize()

    # --- cycle de vie --------------------------------------------------------------

    async def _start(self, model_path: Path, gpu_device_ids: list[int]) -> None:
        self.model = await asyncio.to_thread(self._restore, find_nemo_file(model_path), gpu_device_ids)
        self._worker = asyncio.create_task(self._batch_loop(), name=f"lots:{self.key}")

    def _restore(self, nemo_file: Path, gpu_device_ids: list[int]) -> Any:
        configure_threads(self.settings.torch_threads)
        from nemo.collections.asr.models import EncDecMultiTaskModel

        for name in ("nemo_logger", "hydra.utils"):
            noisy = logging.getLogger(name)
            if not any(isinstance(item, _DropNoise) for item in noisy.filters):
                noisy.addFilter(_DropNoise())
        device = torch_device(gpu_device_ids)
        model = EncDecMultiTaskModel.restore_from(str(nemo_file), map_location=device)
        model.eval()
        logger.info("Modèle %s : Canary restauré depuis %s sur %s", self.key, nemo_file, device)
        return model

    async def _stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        pending = [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        self._reject(pending, ModelNotReady(f"Le modèle « {self.key} » a été déchargé."))
        if self.model is not None:
            self.model = None
            await asyncio.to_thread(release_memory)

    # --- inférence -------------------------------------------------------------------

    def submit(self, clips: list[np.ndarray], options: AsrOptions) -> list[asyncio.Future]:
        """Met des morceaux (<= fenêtre du modèle) en file ; un futur par morceau, dans l'ordre.

        Annuler un futur retire son morceau des lots à venir (client parti)."""
        loop = asyncio.get_running_loop()
        jobs = [_Job(clip, options, loop.create_future()) for clip in clips]
        for job in jobs:
            self._queue.put_nowait(job)
        return [job.future for job in jobs]

    async def _batch_loop(self) -> None:
        while True:
            batch = await self._next_batch()
            try:
                live = [job for job in batch if not job.future.done()]
                for options in dict.fromkeys(job.options for job in live):
                    await self._run_group([job for job in live if job.options == options], options)
            except asyncio.CancelledError:  # déchargement forcé : personne n'attend en vain
                self._reject(batch, ModelNotReady(f"Le modèle « {self.key} » a été déchargé."))
                raise

    async def _next_batch(self) -> list[_Job]:
        """Le premier travail en file, plus ceux qui arrivent dans `ASR_BATCH_WAIT_MS`."""
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        deadline = loop.time() + self.settings.asr_batch_wait_ms / 1000
        while len(batch) < self.settings.asr_max_batch_size:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run_group(self, group: list[_Job], options: AsrOptions) -> None:
        """Un appel `transcribe()` ; une erreur revient aux requêtes du lot, la file continue."""
        try:
            results = await asyncio.to_thread(self._infer, [job.samples for job in group], options)
        except Exception as exc:
            logger.exception("Modèle %s : échec d'un lot de %d morceaux", self.key, len(group))
            self._reject(group, ModelOperationError(f"La transcription a échoué dans le moteur Canary : {exc}"))
            return
        for job, result in zip(group, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

    @staticmethod
    def _reject(jobs: list[_Job], error: Exception) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(error)

    def _infer(self, clips: list[np.ndarray], options: AsrOptions) -> list[AsrResult]:
        import torch

        with torch.inference_mode():
            hypotheses = self.model.transcribe(
                audio=clips,
                batch_size=len(clips),
                return_hypotheses=True,
                verbose=False,
                timestamps=options.timestamps,
                source_lang=options.source_lang,
                target_lang=options.target_lang,
                pnc="yes" if options.punctuation else "no",
            )
        return [
            AsrResult(text=(hyp.text or "").strip(), words=_words(hyp, len(clip) / SAMPLE_RATE))
            for hyp, clip in zip(hypotheses, clips, strict=True)
        ]
