"""Cycle de vie commun à tous les modèles : machine à états, sérialisation, comptage."""

import asyncio
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.core.errors import ModelNotReady, ModelOperationError
from app.core.settings import Settings
from app.models.hub import DownloadError, download_snapshot, is_cached
from app.models.spec import ModelSpec

logger = logging.getLogger(__name__)


class ModelState(StrEnum):
    ABSENT = "absent"
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    LOADING = "loading"
    READY = "ready"
    UNLOADING = "unloading"
    ERROR = "error"


NOT_READY_MESSAGES = {
    ModelState.ABSENT: "Le modèle « {key} » n'est pas téléchargé : lancez {admin}/load.",
    ModelState.DOWNLOADED: "Le modèle « {key} » n'est pas chargé : lancez {admin}/load.",
    ModelState.DOWNLOADING: "Le modèle « {key} » est en cours de téléchargement ; réessayez plus tard.",
    ModelState.LOADING: "Le modèle « {key} » est en cours de chargement ; réessayez sous peu.",
    ModelState.UNLOADING: "Le modèle « {key} » est en cours de déchargement ({admin}/load le recharge).",
    ModelState.ERROR: "Le modèle « {key} » est en erreur : {error} ({admin}/load pour réessayer).",
}


class BaseModelWrapper(ABC):
    """Possède l'état d'un modèle ; les sous-classes ne fournissent que `_start` et `_stop`.

    Les opérations (`load`, `unload`) sont sérialisées par un verrou : deux `load`
    simultanés ne lancent qu'un chargement, le second trouve le modèle prêt.
    """

    def __init__(self, spec: ModelSpec, settings: Settings):
        self.spec = spec
        self.settings = settings
        self.error: str | None = None
        self._progress: dict[str, Any] = {}
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._last_progress_event = 0.0
        self.gpu_device_ids: list[int] = []
        self.inflight = 0
        self.last_used: float | None = None
        self._lock = asyncio.Lock()
        self._cancel = threading.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.state = ModelState.DOWNLOADED if self.is_downloaded() else ModelState.ABSENT
        self.state_since = time.time()

    @property
    def key(self) -> str:
        return self.spec.key

    # --- événements ------------------------------------------------------------------

    def add_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """`listener(événement)` à chaque changement d'état ou de progression (tout fil)."""
        self._listeners.append(listener)

    def _notify(self, kind: str) -> None:
        if kind == "progress":  # au plus 4 événements de progression par seconde
            now = time.monotonic()
            if now - self._last_progress_event < 0.25:
                return
            self._last_progress_event = now
        event = {"type": kind, "model": self.snapshot()}
        for listener in self._listeners:
            listener(event)

    @property
    def progress(self) -> dict[str, Any]:
        """Progression de l'opération en cours (téléchargement, chargement)."""
        return self._progress

    @progress.setter
    def progress(self, value: dict[str, Any]) -> None:
        self._progress = value
        self._notify("progress")

    def report_activity(self, activity: dict[str, Any]) -> None:
        """Progression d'un traitement (diarisation...) diffusée sans toucher à l'état."""
        for listener in self._listeners:
            listener({"type": "activity", "model": self.key, "activity": activity})

    # --- moteur (sous-classes) -------------------------------------------------

    @abstractmethod
    async def _start(self, model_path: Path, gpu_device_ids: list[int]) -> None:
        """Démarre le moteur ; lève une exception au message clair en cas d'échec."""

    @abstractmethod
    async def _stop(self) -> None:
        """Arrête le moteur et libère sa mémoire ; sans effet s'il ne tourne pas."""

    def engine_info(self) -> dict[str, Any] | None:
        return None

    def queue_depth(self) -> int:
        """Travaux en attente d'un lot (0 pour les moteurs sans file)."""
        return 0

    # --- fichiers du modèle ------------------------------------------------------

    def is_downloaded(self) -> bool:
        source = self.spec.source
        if source.is_local:
            return source.local_dir.is_dir()
        return is_cached(source.repo_id, source.revision, self.hub_cache) is not None

    @property
    def hub_cache(self) -> Path:
        return self.settings.model_cache_dir / "hub"

    async def download(self) -> Path:
        """Télécharge les fichiers du modèle (idempotent, reprend un téléchargement interrompu)."""
        async with self._lock:
            return await self._download_locked()

    async def _download_locked(self) -> Path:
        source = self.spec.source
        if source.is_local:
            if not source.local_dir.is_dir():
                raise FileNotFoundError(
                    f"dossier local introuvable : {source.local_dir} (profil demo : lancez « make demo-models »)"
                )
            return source.local_dir
        cached = is_cached(source.repo_id, source.revision, self.hub_cache)
        if cached is not None:
            return cached
        previous = self.state
        self._set_state(ModelState.DOWNLOADING)
        self.progress = {}
        token = self.settings.huggingface_token
        try:
            path = await asyncio.to_thread(
                download_snapshot,
                source.repo_id,
                source.revision,
                self.hub_cache,
                token.get_secret_value() if token else None,
                lambda progress: setattr(self, "progress", progress.as_dict()),
                self._cancel,
            )
        except DownloadError as exc:
            if exc.code == "cancelled":
                self._set_state(previous)
            else:
                self.fail(exc.message)
            raise ModelOperationError(exc.message) from exc
        except BaseException:
            self._set_state(previous)
            raise
        self._set_state(ModelState.DOWNLOADED)
        return path

    def cancel_operations(self) -> None:
        """Arrêt de la passerelle : interrompt un téléchargement en cours (reprise possible)."""
        self._cancel.set()

    # --- opérations ----------------------------------------------------------------

    async def load(self, gpu_device_ids: list[int] | None = None) -> None:
        gpus = list(self.spec.gpu_device_ids if gpu_device_ids is None else gpu_device_ids)
        async with self._lock:
            if self.state is ModelState.READY and gpus == self.gpu_device_ids:
                return
            if self.state in (ModelState.READY, ModelState.ERROR):
                await self._unload_locked()
            self.progress = {}
            started = time.monotonic()
            try:
                path = await self._download_locked()
                self._set_state(ModelState.LOADING)
                await self._start(path, gpus)
            except BaseException as exc:
                await self.stop_engine()
                reason = "chargement annulé" if isinstance(exc, asyncio.CancelledError) else exc
                self.fail(
                    f"Échec du chargement de « {self.key} » : {reason}. Corrigez la cause puis relancez le chargement."
                )
                if isinstance(exc, Exception):
                    raise ModelOperationError(self.error) from exc
                raise
            self.gpu_device_ids = gpus
            self._set_state(ModelState.READY)
            logger.info("Modèle %s prêt en %.1f s", self.key, time.monotonic() - started)

    async def unload(self) -> None:
        async with self._lock:
            await self._unload_locked()

    async def _unload_locked(self) -> None:
        if self.state not in (ModelState.READY, ModelState.ERROR):
            return
        self._set_state(ModelState.UNLOADING)
        timeout = self.settings.unload_drain_timeout_s
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            logger.warning(
                "Modèle %s : %d requête(s) encore en cours après %.0f s, arrêt forcé",
                self.key,
                self.inflight,
                timeout,
            )
        await self.stop_engine()
        self.gpu_device_ids = []
        self.error = None
        self._set_state(ModelState.DOWNLOADED if self.is_downloaded() else ModelState.ABSENT)

    async def stop_engine(self) -> None:
        try:
            await self._stop()
        except Exception:
            logger.exception("Modèle %s : échec de l'arrêt du moteur", self.key)

    def fail(self, message: str) -> None:
        """Passe en `error` avec un message qu'une personne peut suivre."""
        self.error = message
        self._set_state(ModelState.ERROR)
        logger.error("Modèle %s en erreur : %s", self.key, message)

    def _set_state(self, state: ModelState) -> None:
        if state is not self.state:
            logger.info("Modèle %s : %s -> %s", self.key, self.state.value, state.value)
            self.state = state
            self.state_since = time.time()
            self._notify("state")

    # --- requêtes ------------------------------------------------------------------

    def check_ready(self) -> None:
        """Lève `ModelNotReady` (503) si le modèle ne peut pas servir maintenant."""
        if self.state is not ModelState.READY:
            raise ModelNotReady(self._not_ready_message(), headers=self._retry_after())

    def acquire(self) -> None:
        """Compte une requête ; lève `ModelNotReady` (503) si le modèle ne peut la servir."""
        self.check_ready()
        self.inflight += 1
        self._idle.clear()
        self.last_used = time.time()

    def release(self) -> None:
        self.inflight -= 1
        if self.inflight == 0:
            self._idle.set()

    @asynccontextmanager
    async def use(self):
        self.acquire()
        try:
            yield self
        finally:
            self.release()

    def _not_ready_message(self) -> str:
        template = NOT_READY_MESSAGES[self.state]
        return template.format(key=self.key, error=self.error, admin=f"POST /api/admin/models/{self.key}")

    def _retry_after(self) -> dict[str, str] | None:
        if self.state in (ModelState.LOADING, ModelState.DOWNLOADING):
            return {"Retry-After": "10"}
        return None

    def snapshot(self) -> dict[str, Any]:
        source = self.spec.source
        return {
            "key": self.key,
            "kind": self.spec.kind.value,
            "engine": self.spec.engine,
            "source": str(source.local_dir) if source.is_local else f"{source.repo_id}@{source.revision}",
            "state": self.state.value,
            "state_since": self.state_since,
            "error": self.error,
            "progress": self.progress,
            "gpu_device_ids": self.gpu_device_ids,
            "default_gpu_device_ids": self.spec.gpu_device_ids,
            "inflight": self.inflight,
            "queued": self.queue_depth(),
            "last_used": self.last_used,
            "autoload": self.spec.autoload,
            "engine_process": self.engine_info(),
        }
