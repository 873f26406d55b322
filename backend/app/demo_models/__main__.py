"""Ligne de commande : `python -m app.demo_models build [--cache-dir DIR] [--force]`.

Les modèles sont écrits dans `<cache-dir>/demo/<sous-répertoire>` ; le
répertoire de cache vient de `--cache-dir`, sinon de la variable
d'environnement `MODEL_CACHE_DIR`, sinon de `~/.cache/passerelle/models`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .canary import build_canary
from .pyannote_pipeline import build_pyannote_pipeline
from .qwen3_vl import build_qwen3_vl

Builder = Callable[[Path, bool], Path]

# Nom -> (sous-répertoire sous `<cache-dir>/demo`, constructeur).
# Les futurs modèles de démonstration (Canary, pyannote…) s'ajoutent ici.
BUILDERS: dict[str, tuple[str, Builder]] = {
    "qwen": ("qwen3-vl-moe-tiny", build_qwen3_vl),
    "canary": ("canary-1b-v2-tiny", build_canary),
    "pyannote": ("speaker-diarization-community-1-tiny", build_pyannote_pipeline),
}


def default_cache_dir() -> Path:
    """Répertoire de cache par défaut des modèles."""
    env = os.environ.get("MODEL_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "passerelle" / "models"


def demo_model_dir(cache_dir: Path, name: str) -> Path:
    """Chemin du modèle de démonstration `name` dans `cache_dir`."""
    return Path(cache_dir).expanduser() / "demo" / BUILDERS[name][0]


def build_all(cache_dir: Path, force: bool = False) -> dict[str, Path]:
    """Construit tous les modèles de démonstration et renvoie leurs chemins."""
    paths = {}
    for name, (_, builder) in BUILDERS.items():
        start = time.perf_counter()
        paths[name] = builder(demo_model_dir(cache_dir, name), force)
        elapsed = time.perf_counter() - start
        print(f"Modèle de démonstration {name} prêt : {paths[name]} ({elapsed:.1f} s)")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.demo_models",
        description="Construit les petits modèles de démonstration à poids aléatoires.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="construit les modèles de démonstration")
    build.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="répertoire de cache (défaut : $MODEL_CACHE_DIR ou ~/.cache/passerelle/models)",
    )
    build.add_argument("--force", action="store_true", help="reconstruit même si le modèle existe déjà")
    args = parser.parse_args(argv)

    cache_dir = args.cache_dir or default_cache_dir()
    try:
        build_all(cache_dir, force=args.force)
    except Exception as exc:  # message lisible plutôt qu'une pile d'appels
        print(f"Échec de la construction des modèles de démonstration : {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
