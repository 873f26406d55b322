"""Découpe d'un long enregistrement en fenêtres que Canary accepte, aux silences."""

import numpy as np

from app.core.audio import SAMPLE_RATE

FRAME_S = 0.05
SEARCH_S = 5.0


def frame_energy(samples: np.ndarray) -> np.ndarray:
    frame = int(FRAME_S * SAMPLE_RATE)
    usable = len(samples) // frame * frame
    return np.square(samples[:usable].reshape(-1, frame)).mean(axis=1)


def plan_windows(samples: np.ndarray, start: float, end: float, max_window_s: float) -> list[tuple[float, float]]:
    """Fenêtres contiguës couvrant [start, end], chacune <= `max_window_s` ; chaque coupure
    tombe sur la trame la plus silencieuse des `SEARCH_S` dernières secondes de la fenêtre."""
    windows: list[tuple[float, float]] = []
    position = start
    while end - position > max_window_s:
        search_from = position + max(max_window_s - SEARCH_S, max_window_s / 2)
        limit = position + max_window_s
        first = int(search_from * SAMPLE_RATE)
        energy = frame_energy(samples[first : int(limit * SAMPLE_RATE)])
        cut = search_from + (int(np.argmin(energy)) + 0.5) * FRAME_S if len(energy) else limit
        cut = min(cut, limit)
        windows.append((position, cut))
        position = cut
    windows.append((position, end))
    return windows
