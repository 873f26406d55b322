"""Registre des modèles : construit les enveloppes depuis le YAML et pilote leurs opérations."""

import asyncio
import logging
from typing import Any

from app.core.errors import InvalidRequest, ModelNotFound
from app.core.settings import Settings
from app.models.base import BaseModelWrapper, ModelState
from app.models.canary import CanaryWrapper
from app.models.pyannote_pipeline import PyannoteWrapper
from app.models.spec import ModelKind, ModelSpec, load_registry_file
from app.models.vllm_chat import VLLMChatWrapper

logger = logging.getLogger(__name__)

WRAPPER_CLASSES: dict[str, type[BaseModelWrapper]] = {
    "vllm": VLLMChatWrapper,
    "nemo": CanaryWrapper,
    "pyannote": PyannoteWrapper,
}


def build_wrapper(spec: ModelSpec, settings: Settings) -> BaseModelWrapper:
    try:
        wrapper_class = WRAPPER_CLASSES[spec.engine]
    except KeyError:
        raise ValueError(
            f"moteur inconnu « {spec.engine} » pour le modèle « {spec.key} » (connus : {', '.join(WRAPPER_CLASSES)})"
        ) from None
    return wrapper_class(spec, settings)


class ModelRegistry:
    def __init__(self, wrappers: list[BaseModelWrapper]):
        self._wrappers = {wrapper.key: wrapper for wrapper in wrappers}
        self._names = {name: wrapper for wrapper in wrappers for name in wrapper.spec.names}
        self._tasks: set[asyncio.Task] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> "ModelRegistry":
        specs = load_registry_file(settings.registry_path, settings.model_cache_dir)
        registry = cls([build_wrapper(spec, settings) for spec in specs])
        logger.info(
            "ModelRegistry configured : %d modèle(s) depuis %s (%s)",
            len(specs),
            settings.registry_path,
            ", ".join(registry.keys()) or "aucun",
        )
        return registry

    def keys(self) -> list[str]:
        return list(self._wrappers)

    def wrappers(self) -> list[BaseModelWrapper]:
        return list(self._wrappers.values())

    def get(self, key: str) -> BaseModelWrapper:
        try:
            return self._wrappers[key]
        except KeyError:
            raise ModelNotFound(
                f"Modèle inconnu : « {key} ». Modèles configurés : {', '.join(self._wrappers)}.",
                param="model",
            ) from None

    def label_for(self, name: str | None) -> str:
        """Étiquette de métrique bornée : la clé du modèle nommé, sinon « - » ou « inconnu »."""
        if not name:
            return "-"
        wrapper = self._names.get(name)
        return wrapper.key if wrapper else "inconnu"

    def add_listener(self, listener) -> None:
        for wrapper in self.wrappers():
            wrapper.add_listener(listener)

    def first_of_kind(self, kind: ModelKind) -> BaseModelWrapper:
        """Le premier modèle du type demandé (registre), pour les routes sans champ `model`."""
        for wrapper in self.wrappers():
            if wrapper.spec.kind is kind:
                return wrapper
        raise ModelNotFound(f"Aucun modèle de type {kind.value} n'est configuré.", param="model")

    def resolve(self, name: str, kind: ModelKind) -> BaseModelWrapper:
        """Trouve le modèle nommé par une requête (clé, alias ou dépôt) et vérifie son type."""
        wrapper = self._names.get(name)
        if wrapper is None:
            raise ModelNotFound(
                f"Modèle inconnu : « {name} ». Modèles de type {kind.value} : "
                f"{', '.join(w.key for w in self.wrappers() if w.spec.kind is kind) or 'aucun'}.",
                param="model",
            )
        if wrapper.spec.kind is not kind:
            raise InvalidRequest(
                f"Le modèle « {name} » est de type {wrapper.spec.kind.value}, pas {kind.value}.",
                param="model",
            )
        return wrapper

    # --- opérations en arrière-plan ----------------------------------------------

    def start_load(self, key: str, gpu_device_ids: list[int] | None = None) -> BaseModelWrapper:
        wrapper = self.get(key)
        self._spawn(wrapper.load(gpu_device_ids), f"load:{key}")
        return wrapper

    def start_download(self, key: str) -> BaseModelWrapper:
        wrapper = self.get(key)
        self._spawn(wrapper.download(), f"download:{key}")
        return wrapper

    def start_unload(self, key: str) -> BaseModelWrapper:
        wrapper = self.get(key)
        self._spawn(wrapper.unload(), f"unload:{key}")
        return wrapper

    def autoload(self) -> None:
        """Charge en arrière-plan les modèles `autoload` et annonce le résultat dans le journal."""
        keys = [wrapper.key for wrapper in self.wrappers() if wrapper.spec.autoload]
        tasks = [self._spawn(self.get(key).load(), f"load:{key}") for key in keys]
        if tasks:
            self._spawn(self._announce(keys, tasks), "annonce")

    async def _announce(self, keys: list[str], tasks: list[asyncio.Task]) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        failed = [key for key in keys if self.get(key).state is not ModelState.READY]
        if failed:
            logger.error("Chargement automatique : modèles en échec : %s (voir /api/admin/status)", ", ".join(failed))
        else:
            logger.info("Chargement automatique terminé : %s prêts", ", ".join(keys))

    def _spawn(self, coro: Any, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # L'état `error` du modèle porte déjà le message.
            logger.debug("Tâche %s terminée en erreur : %s", task.get_name(), task.exception())

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """Prêt quand chaque modèle en chargement automatique l'est ; sinon leurs états."""
        waiting = {w.key: w.state.value for w in self.wrappers() if w.spec.autoload and w.state is not ModelState.READY}
        return not waiting, waiting

    def snapshots(self) -> list[dict[str, Any]]:
        return [wrapper.snapshot() for wrapper in self.wrappers()]

    async def shutdown(self) -> None:
        for wrapper in self.wrappers():
            wrapper.cancel_operations()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for wrapper in self.wrappers():
            await wrapper.stop_engine()
