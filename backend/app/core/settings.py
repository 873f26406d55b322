"""Réglages du processus, lus dans l'environnement (et un fichier `.env` facultatif)."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REGISTRY_DIR = Path(__file__).resolve().parents[2] / "registry"
DATA_HOME = Path.home() / ".cache" / "passerelle"

KeyList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    """Adresse d'écoute du serveur HTTP (`0.0.0.0` pour exposer sur le réseau)."""

    port: int = Field(8000, ge=1, le=65535)
    """Port d'écoute du serveur HTTP."""

    huggingface_token: SecretStr | None = Field(None, validation_alias=AliasChoices("HUGGINGFACE_TOKEN", "HF_TOKEN"))
    """Jeton Hugging Face pour les modèles à accès restreint (`HF_TOKEN` aussi accepté). Jamais journalisé."""

    model_cache_dir: Path = DATA_HOME / "models"
    """Dossier des poids téléchargés et des modèles de démonstration."""

    log_dir: Path = DATA_HOME / "logs"
    """Dossier des journaux (passerelle et moteurs enfants)."""

    openai_api_keys: KeyList = []
    """Clés acceptées sur `/v1/*`, séparées par des virgules. Vide : accès libre."""

    admin_api_keys: KeyList = []
    """Clés des routes d'administration ; vide : celles d'`OPENAI_API_KEYS`."""

    model_profile: Literal["production", "demo"] = "production"
    """Profil de registre : `production` (modèles réels) ou `demo` (modèles minuscules locaux)."""

    model_registry_file: Path | None = None
    """Fichier YAML du registre ; par défaut `backend/registry/<profil>.yaml`."""

    engine_start_timeout_s: float = Field(1800.0, gt=0)
    """Délai maximal (s) pour qu'un moteur enfant (vLLM) réponde sur `/health`."""

    engine_stop_timeout_s: float = Field(30.0, gt=0)
    """Délai (s) accordé à un moteur enfant pour s'arrêter avant SIGKILL."""

    unload_drain_timeout_s: float = Field(60.0, ge=0)
    """Attente maximale (s) des requêtes en cours avant de décharger un modèle."""

    upstream_timeout_s: float = Field(600.0, gt=0)
    """Délai maximal (s) entre deux octets reçus du moteur pendant une requête."""

    max_upload_mb: float = Field(500.0, gt=0)
    """Taille maximale d'un fichier audio envoyé (Mo) ; au-delà : 413."""

    max_audio_duration_s: float = Field(4 * 3600.0, gt=0)
    """Durée maximale d'un enregistrement (s) ; au-delà : 400."""

    asr_max_batch_size: int = Field(8, ge=1)
    """Nombre maximal de fenêtres audio regroupées dans un appel `transcribe()` de Canary."""

    asr_batch_wait_ms: float = Field(10.0, ge=0)
    """Attente maximale (ms) pour regrouper des requêtes concurrentes en un lot."""

    asr_default_language: str = "fr"
    """Langue de l'audio quand la requête n'en donne pas (Canary ne la détecte pas)."""

    asr_window_s: float = Field(30.0, gt=1, le=40)
    """Longueur maximale (s) d'une fenêtre transcrite par Canary (entraîné sur <= 40 s)."""

    diarization_max_concurrency: int = Field(1, ge=1)
    """Diarisations simultanées par modèle pyannote ; les suivantes attendent leur tour."""

    torch_threads: int | None = Field(None, ge=1)
    """Fils de calcul de torch (CPU) ; vide : valeur par défaut de torch."""

    @field_validator("openai_api_keys", "admin_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @property
    def registry_path(self) -> Path:
        return self.model_registry_file or REGISTRY_DIR / f"{self.model_profile}.yaml"

    @property
    def effective_admin_keys(self) -> list[str]:
        return self.admin_api_keys or self.openai_api_keys
