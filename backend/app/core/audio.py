"""Décodage audio unique pour tous les moteurs : FFmpeg (torchcodec), mono, 16 kHz."""

from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from app.core.errors import InvalidRequest

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Audio:
    """Échantillons float32 mono à 16 kHz."""

    samples: np.ndarray

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def slice(self, start: float, end: float) -> np.ndarray:
        return self.samples[max(0, int(start * SAMPLE_RATE)) : int(end * SAMPLE_RATE)]


def decode_audio(source: BinaryIO | bytes, max_duration_s: float) -> Audio:
    """Décode tout conteneur et codec connus de FFmpeg, lu à la demande ; 400 si illisible.

    `source` est un fichier ouvert (l'envoi, déjà sur disque au-delà de 1 Mo) ou des
    octets ; jamais un chemin ni une URL venus d'un client.
    """
    from torchcodec.decoders import AudioDecoder

    try:
        decoder = AudioDecoder(source, sample_rate=SAMPLE_RATE, num_channels=1)
        declared = decoder.metadata.duration_seconds
        if declared is not None and declared > max_duration_s:
            raise _too_long(declared, max_duration_s)
        samples = decoder.get_all_samples().data
    except (RuntimeError, ValueError) as exc:
        raise InvalidRequest(
            "Fichier audio illisible : format non reconnu, fichier tronqué ou sans piste audio.",
            param="file",
        ) from exc
    audio = Audio(np.ascontiguousarray(samples[0].numpy(), dtype=np.float32))
    if len(audio.samples) < SAMPLE_RATE // 100:
        raise InvalidRequest("Le fichier ne contient pas d'audio (moins de 10 ms).", param="file")
    if audio.duration > max_duration_s:
        raise _too_long(audio.duration, max_duration_s)
    if not np.isfinite(audio.samples).all():
        raise InvalidRequest("Fichier audio corrompu : échantillons invalides.", param="file")
    return audio


def _too_long(duration: float, limit: float) -> InvalidRequest:
    return InvalidRequest(
        f"Enregistrement trop long : {duration:.0f} s pour {limit:.0f} s au plus (MAX_AUDIO_DURATION_S).",
        param="file",
    )
