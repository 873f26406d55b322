"""Transcription et traduction de la parole : fenêtres, lots Canary, recollage des décalages."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from app.core.audio import Audio
from app.core.settings import Settings
from app.models.canary import AsrOptions, AsrResult, CanaryWrapper
from app.models.registry import ModelRegistry
from app.models.spec import ModelKind
from app.services.transcripts import Segment, Transcript
from app.services.windows import plan_windows


@dataclass
class Span:
    """Un morceau d'audio à transcrire, placé dans l'enregistrement."""

    start: float
    end: float
    speaker: str | None = None


class TranscriptionService:
    def __init__(self, registry: ModelRegistry, settings: Settings):
        self.registry = registry
        self.settings = settings

    def model(self, name: str | None) -> CanaryWrapper:
        if not name:
            return self.registry.first_of_kind(ModelKind.ASR)  # type: ignore[return-value]
        return self.registry.resolve(name, ModelKind.ASR)  # type: ignore[return-value]

    def windows(self, audio: Audio) -> list[Span]:
        bounds = plan_windows(audio.samples, 0.0, audio.duration, self.settings.asr_window_s)
        return [Span(start, end) for start, end in bounds]

    async def stream_spans(
        self, wrapper: CanaryWrapper, audio: Audio, spans: list[Span], options: AsrOptions
    ) -> AsyncIterator[tuple[Span, AsrResult]]:
        """Transcrit les morceaux en lots et les rend dans l'ordre, dès qu'ils sont prêts.

        À appeler sous `wrapper.use()` ; quitter la boucle annule les morceaux restants."""
        futures = wrapper.submit([audio.slice(span.start, span.end) for span in spans], options)
        try:
            for span, future in zip(spans, futures, strict=True):
                yield span, await future
        finally:
            for future in futures:
                future.cancel()

    async def stream(
        self, audio: Audio, wrapper: CanaryWrapper, options: AsrOptions
    ) -> AsyncIterator[tuple[Span, AsrResult]]:
        """Fenêtres de l'enregistrement transcrites, dans l'ordre, dès qu'elles sont prêtes."""
        async with wrapper.use():
            async for item in self.stream_spans(wrapper, audio, self.windows(audio), options):
                yield item


def build_transcript(
    audio: Audio, pieces: list[tuple[Span, AsrResult]], options: AsrOptions, task: str, diarized: bool = False
) -> Transcript:
    spoken = [(span, result) for span, result in pieces if result.text]
    segments = [
        Segment(index, round(span.start, 3), round(span.end, 3), result.text, span.speaker)
        for index, (span, result) in enumerate(spoken)
    ]
    words = None
    if options.timestamps:
        words = [
            {
                "word": word["word"],
                "start": round(span.start + word["start"], 3),
                "end": round(span.start + word["end"], 3),
            }
            for span, result in pieces
            for word in result.words
        ]
    return Transcript(task, options.target_lang, round(audio.duration, 3), segments, words, diarized)
