"""Routes audio : API OpenAI (`/v1/audio/*`) et routes d'origine (`/api/audio`, `/api/diarization`)."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from app.api.audio_forms import AudioForm, check_format, read_audio, read_form, read_known_speakers
from app.api.deps import require_api_key
from app.api.streaming import SSE_HEADERS
from app.models.canary import AsrOptions
from app.services.audio_events import transcript_events
from app.services.formats import (
    TRANSCRIPT_FORMATS,
    TRANSLATION_FORMATS,
    diarization_json,
    render_transcript,
    to_rttm,
)
from app.services.languages import check_language, check_translation
from app.services.transcription import build_transcript

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["Audio"])
FORM_DOC = {"requestBody": {"content": {"multipart/form-data": {"schema": AudioForm.model_json_schema()}}}}


def _respond(body, media_type: str) -> Response:
    if isinstance(body, dict):
        return JSONResponse(body)
    return PlainTextResponse(body, media_type=media_type)


async def _speech(request: Request, formats: tuple[str, ...], translate: bool) -> Response:
    """Transcription (langue cible = source, sauf `target_language`) ou traduction (anglais par défaut).
    Tout ce qui peut refuser la requête est vérifié avant de décoder l'audio."""
    services = request.app.state
    form, upload = await read_form(request)
    check_format(form.response_format, formats)
    source = check_language(form.language or services.settings.asr_default_language, "language")
    target = check_language(form.target_language or ("en" if translate else source), "target_language")
    if translate or target != source:
        check_translation(source, target)
    task = "translate" if target != source else "transcribe"
    options = AsrOptions(source, target, form.punctuation, "word" in form.timestamp_granularities)
    asr = services.transcription.model(form.model)
    asr.check_ready()
    diarized = form.response_format == "diarized_json"
    if diarized:
        diarizer = services.diarization.model()
        diarizer.check_ready()
        known = await read_known_speakers(form)
    audio = await read_audio(request, upload)
    services.metrics.audio_seconds.labels(asr.key, task).inc(audio.duration)
    if diarized:
        pieces = services.attribution.stream(audio, asr, diarizer, options, form.speaker_counts, known)
    else:
        pieces = services.transcription.stream(audio, asr, options)
    if form.stream:
        events = transcript_events(pieces, audio.duration, diarized)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    collected = [item async for item in pieces]
    transcript = build_transcript(audio, collected, options, task, diarized)
    return _respond(*render_transcript(transcript, form.response_format))


@router.post("/v1/audio/transcriptions", summary="Transcription (Canary), diarisée sur demande", openapi_extra=FORM_DOC)
async def create_transcription(request: Request) -> Response:
    return await _speech(request, TRANSCRIPT_FORMATS, translate=False)


@router.post(
    "/v1/audio/translations", summary="Traduction de la parole (vers l'anglais par défaut)", openapi_extra=FORM_DOC
)
async def create_translation(request: Request) -> Response:
    return await _speech(request, TRANSLATION_FORMATS, translate=True)


@router.post(
    "/api/audio/transcribe",
    summary="Transcription simple : {text, language, duration, segments}",
    openapi_extra=FORM_DOC,
)
async def transcribe(request: Request) -> dict:
    services = request.app.state
    form, upload = await read_form(request)
    language = check_language(form.language or services.settings.asr_default_language, "language")
    options = AsrOptions(language, language, form.punctuation, "word" in form.timestamp_granularities)
    asr = services.transcription.model(form.model)
    asr.check_ready()
    audio = await read_audio(request, upload)
    services.metrics.audio_seconds.labels(asr.key, "transcribe").inc(audio.duration)
    pieces = [item async for item in services.transcription.stream(audio, asr, options)]
    transcript = build_transcript(audio, pieces, options, "transcribe")
    body = render_transcript(transcript, "verbose_json")[0]
    return {key: body[key] for key in ("text", "language", "duration", "segments", "words") if key in body}


@router.post(
    "/api/diarization/process", summary="Diarisation : segments {speaker, start, end} ou RTTM", openapi_extra=FORM_DOC
)
async def diarize(request: Request) -> Response:
    form, upload = await read_form(request)
    check_format(form.response_format, ("json", "rttm"))
    service = request.app.state.diarization
    wrapper = service.model(form.model)
    wrapper.check_ready()
    audio = await read_audio(request, upload)
    request.app.state.metrics.audio_seconds.labels(wrapper.key, "diarization").inc(audio.duration)
    result = await service.diarize(audio, wrapper, **form.speaker_counts)
    if form.response_format == "rttm":
        return PlainTextResponse(to_rttm(result, upload.filename or "audio"), media_type="text/plain")
    return JSONResponse(diarization_json(result))
