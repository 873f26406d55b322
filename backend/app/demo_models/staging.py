"""Construction atomique et idempotente d'un modèle de démonstration dans son dossier."""

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

MARKER_FILE = ".demo-build.json"


def is_complete(target: Path, version: int, required: Iterable[str]) -> bool:
    """`target` contient une construction de cette version et tous les fichiers attendus."""
    try:
        marker = json.loads((target / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("build_version") == version and all((target / name).is_file() for name in required)


def build_atomically(
    target: Path, version: int, required: Iterable[str], write: Callable[[Path], dict[str, Any]]
) -> None:
    """`write(dossier)` écrit le modèle et rend les informations du marqueur. La construction se fait
    dans un dossier voisin renommé à la fin : une interruption ne laisse jamais de modèle à moitié écrit."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = None
    try:
        marker = {"build_version": version, **write(staging)}
        (staging / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        # mkdtemp crée le dossier en 0700, et certains fichiers sortent en 0600.
        for root, _dirs, files in os.walk(staging):
            os.chmod(root, 0o755)
            for name in files:
                os.chmod(Path(root) / name, 0o644)
        if target.exists():
            # Ancienne construction (périmée, incomplète ou forcée) : écartée d'abord, car un
            # dossier non vide ne peut pas être remplacé.
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / target.name)
        try:
            os.replace(staging, target)
        except OSError:
            if not is_complete(target, version, required):  # construction concurrente déjà en place
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
