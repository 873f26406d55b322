"""Transcription attribuée aux locuteurs : diarisation exclusive, puis Canary sur chaque tour."""

import string
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from app.core.audio import Audio
from app.core.settings import Settings
from app.models.canary import AsrOptions, AsrResult, CanaryWrapper
from app.models.pyannote_pipeline import PyannoteWrapper
from app.services.diarization import DiarizationService
from app.services.transcription import Span, TranscriptionService
from app.services.transcripts import Diarization, Turn
from app.services.windows import plan_windows

MERGE_GAP_S = 1.0
MIN_TURN_S = 0.1


@dataclass
class KnownSpeaker:
    name: str
    samples: np.ndarray


def speaker_spans(audio: Audio, turns: list[Turn], max_window_s: float) -> list[Span]:
    """Tours exclusifs -> morceaux à transcrire : tours voisins d'un même locuteur fusionnés
    (silence < `MERGE_GAP_S`), tours trop longs recoupés aux silences."""
    merged: list[Turn] = []
    for turn in turns:
        if turn.end - turn.start < MIN_TURN_S:
            continue
        last = merged[-1] if merged else None
        if last and last.speaker == turn.speaker and turn.start - last.end < MERGE_GAP_S:
            last.end = max(last.end, turn.end)
        else:
            merged.append(Turn(turn.speaker, turn.start, turn.end))
    spans = []
    for turn in merged:
        for start, end in plan_windows(audio.samples, turn.start, turn.end, max_window_s):
            spans.append(Span(start, end, turn.speaker))
    return spans


def letter_names(speakers: list[str]) -> dict[str, str]:
    """A, B, ..., Z, puis AA, AB... dans l'ordre d'apparition."""

    def letters(index: int) -> str:
        name = ""
        index += 1
        while index:
            index, rest = divmod(index - 1, 26)
            name = string.ascii_uppercase[rest] + name
        return name

    return {speaker: letters(index) for index, speaker in enumerate(speakers)}


def match_known(speakers: list[str], embeddings: np.ndarray, known: dict[str, np.ndarray]) -> dict[str, str]:
    """Associe chaque nom connu au locuteur le plus proche (cosinus), un nom par locuteur."""

    def normalise(matrix: np.ndarray) -> np.ndarray:
        return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)

    names = list(known)
    similarity = normalise(np.asarray(embeddings)) @ normalise(np.stack(list(known.values()))).T
    pairs = sorted(((similarity[i, j], i, j) for i in range(len(speakers)) for j in range(len(names))), reverse=True)
    assigned: dict[str, str] = {}
    used: set[int] = set()
    for score, i, j in pairs:
        if np.isfinite(score) and speakers[i] not in assigned and j not in used:
            assigned[speakers[i]] = names[j]
            used.add(j)
    return assigned


class AttributionService:
    def __init__(self, transcription: TranscriptionService, diarization: DiarizationService, settings: Settings):
        self.transcription = transcription
        self.diarization = diarization
        self.settings = settings

    async def stream(
        self,
        audio: Audio,
        asr: CanaryWrapper,
        diarizer: PyannoteWrapper,
        options: AsrOptions,
        speaker_counts: dict[str, int | None],
        known: list[KnownSpeaker],
    ) -> AsyncIterator[tuple[Span, AsrResult]]:
        """Rend (morceau, texte) tour par tour, avec le nom affiché du locuteur dans `span.speaker`."""
        diarization = await self.diarization.diarize(audio, diarizer, **speaker_counts)
        names = await self._names(diarization, diarizer, known)
        spans = speaker_spans(audio, diarization.exclusive_turns, self.settings.asr_window_s)
        async with asr.use():
            async for span, result in self.transcription.stream_spans(asr, audio, spans, options):
                yield Span(span.start, span.end, names.get(span.speaker or "", span.speaker)), result

    async def _names(
        self, diarization: Diarization, diarizer: PyannoteWrapper, known: list[KnownSpeaker]
    ) -> dict[str, str]:
        spans_order = [turn.speaker for turn in diarization.exclusive_turns]
        ordered = list(dict.fromkeys(spans_order + diarization.speakers))
        names = letter_names(ordered)
        if known and diarization.embeddings is not None and len(diarization.speakers):
            async with diarizer.use():
                references = await diarizer.embed([speaker.samples for speaker in known])
            matched = match_known(
                diarization.speakers,
                diarization.embeddings,
                {speaker.name: row for speaker, row in zip(known, references, strict=True)},
            )
            names.update(matched)
        return names
