"""Diarisation : qui parle quand, à partir du même audio décodé que la transcription."""

import logging

from app.core.audio import Audio
from app.core.errors import InvalidRequest
from app.models.pyannote_pipeline import PyannoteWrapper
from app.models.registry import ModelRegistry
from app.models.spec import ModelKind
from app.services.transcripts import Diarization, Turn

logger = logging.getLogger(__name__)
MAX_SPEAKERS = 32


def check_speaker_counts(num: int | None, minimum: int | None, maximum: int | None) -> None:
    """Appelée à la lecture du formulaire, avant tout décodage."""
    for name, value in (("num_speakers", num), ("min_speakers", minimum), ("max_speakers", maximum)):
        if value is not None and not 1 <= value <= MAX_SPEAKERS:
            raise InvalidRequest(f"{name} doit être compris entre 1 et {MAX_SPEAKERS}.", param=name)
    if num is not None and (minimum is not None or maximum is not None):
        raise InvalidRequest(
            "Indiquez soit num_speakers, soit min_speakers/max_speakers, pas les deux.", param="num_speakers"
        )
    if minimum is not None and maximum is not None and minimum > maximum:
        raise InvalidRequest("min_speakers ne peut pas dépasser max_speakers.", param="min_speakers")


def _turns(annotation, duration: float) -> list[Turn]:
    """Tours triés, bornés à l'enregistrement (pyannote complète un fichier court jusqu'à sa fenêtre
    de 10 s et peut y placer de la parole)."""
    turns = []
    for segment, _, label in annotation.itertracks(yield_label=True):
        start, end = max(0.0, float(segment.start)), min(duration, float(segment.end))
        if end - start > 1e-3:
            turns.append(Turn(str(label), round(start, 3), round(end, 3)))
    return sorted(turns, key=lambda turn: (turn.start, turn.end))


class DiarizationService:
    def __init__(self, registry: ModelRegistry):
        self.registry = registry

    def model(self, name: str | None = None) -> PyannoteWrapper:
        if not name:
            return self.registry.first_of_kind(ModelKind.DIARIZATION)  # type: ignore[return-value]
        return self.registry.resolve(name, ModelKind.DIARIZATION)  # type: ignore[return-value]

    async def diarize(
        self,
        audio: Audio,
        wrapper: PyannoteWrapper,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> Diarization:

        def progress(step: str, fraction: float | None) -> None:
            if fraction is not None:
                wrapper.report_activity({"task": "diarization", "step": step, "fraction": round(fraction, 3)})

        async with wrapper.use():
            output = await wrapper.diarize(audio.samples, num_speakers, min_speakers, max_speakers, progress)
        regular = output.speaker_diarization
        speakers = [str(label) for label in regular.labels()]
        return Diarization(
            duration=round(audio.duration, 3),
            turns=_turns(regular, audio.duration),
            exclusive_turns=_turns(output.exclusive_speaker_diarization, audio.duration),
            speakers=speakers,
            embeddings=getattr(output, "speaker_embeddings", None),
        )
