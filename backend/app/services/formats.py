"""Mise en forme des transcriptions (formats de l'API audio d'OpenAI) et des diarisations."""

import json
from typing import Any

from app.services.transcripts import Diarization, Segment, Transcript

TRANSCRIPT_FORMATS = ("json", "text", "srt", "vtt", "verbose_json", "diarized_json")
TRANSLATION_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")


def usage(transcript: Transcript) -> dict[str, Any]:
    return {"type": "duration", "seconds": round(transcript.duration, 3)}


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(segments: list[Segment]) -> list[Segment]:
    return [segment for segment in segments if segment.text]


def to_srt(transcript: Transcript) -> str:
    blocks = []
    for number, segment in enumerate(_cues(transcript.segments), start=1):
        text = f"{segment.speaker} : {segment.text}" if segment.speaker else segment.text
        blocks.append(f"{number}\n{_clock(segment.start, ',')} --> {_clock(segment.end, ',')}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    blocks = ["WEBVTT\n"]
    for segment in _cues(transcript.segments):
        text = f"<v {segment.speaker}>{segment.text}" if segment.speaker else segment.text
        blocks.append(f"{_clock(segment.start, '.')} --> {_clock(segment.end, '.')}\n{text}\n")
    return "\n".join(blocks)


def to_verbose_json(transcript: Transcript) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": transcript.task,
        "language": transcript.language,
        "duration": transcript.duration,
        "text": transcript.text,
        "segments": [
            {
                "id": segment.id,
                "seek": 0,
                "start": segment.start,
                "end": segment.end,
                "text": segment.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": 0.0,
                "compression_ratio": 0.0,
                "no_speech_prob": 0.0,
                **({"speaker": segment.speaker} if segment.speaker else {}),
            }
            for segment in transcript.segments
        ],
        "usage": usage(transcript),
    }
    if transcript.words is not None:
        body["words"] = transcript.words
    return body


def diarized_segment(segment: Segment) -> dict[str, Any]:
    return {
        "type": "transcript.text.segment",
        "id": f"seg_{segment.id:04d}",
        "start": segment.start,
        "end": segment.end,
        "speaker": segment.speaker,
        "text": segment.text,
    }


def to_diarized_json(transcript: Transcript) -> dict[str, Any]:
    return {
        "task": "transcribe",
        "duration": transcript.duration,
        "text": transcript.text,
        "segments": [diarized_segment(segment) for segment in transcript.segments],
        "usage": usage(transcript),
    }


def render_transcript(transcript: Transcript, response_format: str) -> tuple[str | dict[str, Any], str]:
    """(corps, type de média) pour un format de réponse déjà validé."""
    if response_format == "text":
        return transcript.text, "text/plain"
    if response_format == "srt":
        return to_srt(transcript), "text/plain"
    if response_format == "vtt":
        return to_vtt(transcript), "text/vtt"
    if response_format == "verbose_json":
        return to_verbose_json(transcript), "application/json"
    if response_format == "diarized_json":
        return to_diarized_json(transcript), "application/json"
    return {"text": transcript.text, "usage": usage(transcript)}, "application/json"


def sse(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


def diarization_json(diarization: Diarization) -> dict[str, Any]:
    def turns(items):
        return [{"speaker": t.speaker, "start": t.start, "end": t.end} for t in items]

    return {
        "duration": diarization.duration,
        "speakers": diarization.speakers,
        "segments": turns(diarization.turns),
        "exclusive_segments": turns(diarization.exclusive_turns),
    }


def to_rttm(diarization: Diarization, uri: str = "audio") -> str:
    uri = "".join(char if char.isalnum() or char in "-_." else "_" for char in uri) or "audio"
    return "".join(
        f"SPEAKER {uri} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n"
        for t in diarization.turns
    )
