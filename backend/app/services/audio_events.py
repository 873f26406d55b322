"""Événements SSE de l'API audio d'OpenAI (`transcript.text.*`)."""

from collections.abc import AsyncIterator

from app.core.errors import GatewayError
from app.models.canary import AsrResult
from app.services.formats import diarized_segment, sse
from app.services.transcription import Span
from app.services.transcripts import Segment


async def transcript_events(
    pieces: AsyncIterator[tuple[Span, AsrResult]], duration: float, diarized: bool
) -> AsyncIterator[bytes]:
    """delta (et segment si diarisé) par morceau, puis done ; une erreur devient un événement."""
    texts: list[str] = []
    try:
        index = 0
        async for span, result in pieces:
            if not result.text:
                continue
            delta = result.text if not texts else " " + result.text
            texts.append(result.text)
            yield sse({"type": "transcript.text.delta", "delta": delta})
            if diarized:
                segment = Segment(index, round(span.start, 3), round(span.end, 3), result.text, span.speaker)
                yield sse(diarized_segment(segment))
            index += 1
    except GatewayError as exc:
        yield sse({"type": "error", "error": {"message": exc.message, "type": exc.error_type, "code": exc.code}})
        return
    done = {"type": "transcript.text.done", "text": " ".join(texts)}
    done["usage"] = {"type": "duration", "seconds": round(duration, 3)}
    yield sse(done)
    yield b"data: [DONE]\n\n"
