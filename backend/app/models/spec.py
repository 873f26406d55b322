"""Description d'un modèle dans le fichier de registre YAML."""

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ModelKind(StrEnum):
    CHAT = "chat"
    ASR = "asr"
    DIARIZATION = "diarization"


class ModelSource(BaseModel):
    """Dépôt Hugging Face (`repo_id` + `revision`) ou dossier local (`local_dir`)."""

    model_config = ConfigDict(extra="forbid")

    repo_id: str | None = None
    revision: str = "main"
    local_dir: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "ModelSource":
        if (self.repo_id is None) == (self.local_dir is None):
            raise ValueError("indiquez soit `repo_id`, soit `local_dir`")
        return self

    @property
    def is_local(self) -> bool:
        return self.local_dir is not None


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    kind: ModelKind
    engine: str
    source: ModelSource
    aliases: list[str] = []
    gpu_device_ids: list[int] = []
    autoload: bool = False
    engine_args: dict[str, Any] = {}
    engine_env: dict[str, str] = {}
    vram_gb: float | None = None
    """Mémoire GPU libre exigée par GPU avant un chargement (vLLM : gpu_memory_utilization x total)."""
    description: str = ""

    @model_validator(mode="after")
    def _check_key(self) -> "ModelSpec":
        if not KEY_PATTERN.match(self.key):
            raise ValueError(f"clé de modèle invalide : {self.key!r}")
        return self

    @property
    def names(self) -> list[str]:
        """Noms acceptés dans le champ `model` des requêtes."""
        extra = [self.source.repo_id] if self.source.repo_id else []
        return [self.key, *self.aliases, *extra]


class RegistryFile(BaseModel):
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)


def load_registry_file(path: Path, model_cache_dir: Path) -> list[ModelSpec]:
    """Lit le YAML ; un `local_dir` relatif se résout sous `MODEL_CACHE_DIR`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RuntimeError(f"Fichier de registre illisible ({path}) : {exc}") from exc
    specs = []
    for key, entry in RegistryFile.model_validate(raw).models.items():
        spec = ModelSpec.model_validate({**entry, "key": key})
        local = spec.source.local_dir
        if local is not None and not local.is_absolute():
            spec.source.local_dir = model_cache_dir / local
        specs.append(spec)
    return specs
