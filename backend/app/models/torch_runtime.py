"""Outils communs aux moteurs chargés dans le processus (NeMo, pyannote) : appareil, mémoire."""

import gc
from typing import Any


def torch_device(gpu_device_ids: list[int]) -> Any:
    """Premier GPU choisi, ou CPU si la liste est vide."""
    import torch

    if not gpu_device_ids:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError(f"GPU {gpu_device_ids} demandés mais CUDA est indisponible sur cette machine")
    return torch.device(f"cuda:{gpu_device_ids[0]}")


def configure_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def release_memory() -> None:
    """Rend la mémoire des objets déjà libérés (et la VRAM mise en cache par torch)."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
