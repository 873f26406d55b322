"""Résultats de transcription et de diarisation, indépendants du format de sortie."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass
class Transcript:
    task: str  # "transcribe" ou "translate"
    language: str
    duration: float
    segments: list[Segment]
    words: list[dict[str, Any]] | None = None
    diarized: bool = False

    @property
    def text(self) -> str:
        return " ".join(segment.text for segment in self.segments if segment.text)


@dataclass
class Turn:
    speaker: str
    start: float
    end: float


@dataclass
class Diarization:
    duration: float
    turns: list[Turn]
    exclusive_turns: list[Turn]
    speakers: list[str]
    embeddings: Any = None
    """Une empreinte par locuteur, dans l'ordre de `speakers` (ou None)."""

    extra: dict[str, Any] = field(default_factory=dict)
