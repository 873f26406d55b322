"""Jeton Hugging Face : validé, conservé (fichier 0600 sous MODEL_CACHE_DIR), jamais affiché."""

import logging
import os
import re
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.core.errors import InvalidRequest
from app.core.settings import Settings

logger = logging.getLogger(__name__)
TOKEN_PATTERN = re.compile(r"^hf_[A-Za-z0-9]{30,100}$")
TOKEN_FILE = ".huggingface_token"


class TokenStore:
    """Le jeton vit dans `settings.huggingface_token`, lu par chaque téléchargement."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.path: Path = settings.model_cache_dir / TOKEN_FILE
        self.source = "env" if settings.huggingface_token else None
        if self.source is None and self.path.is_file():
            saved = self.path.read_text(encoding="utf-8").strip()
            if TOKEN_PATTERN.match(saved):
                settings.huggingface_token = SecretStr(saved)
                self.source = "file"
            else:
                logger.warning("Jeton Hugging Face enregistré illisible dans %s : ignoré", self.path)

    def set(self, token: str) -> None:
        token = token.strip()
        if not TOKEN_PATTERN.match(token):
            raise InvalidRequest(
                "Jeton Hugging Face invalide : il commence par « hf_ » suivi de 30 à 100 lettres ou chiffres.",
                param="token",
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(token)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)
        self.settings.huggingface_token = SecretStr(token)
        self.source = "file"
        logger.info("Jeton Hugging Face enregistré (se termine par %s)", token[-4:])

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self.settings.huggingface_token = None
        self.source = None
        logger.info("Jeton Hugging Face effacé")

    def status(self) -> dict[str, Any]:
        token = self.settings.huggingface_token
        if token is None:
            return {"set": False, "last4": None, "source": None}
        return {"set": True, "last4": token.get_secret_value()[-4:], "source": self.source}
