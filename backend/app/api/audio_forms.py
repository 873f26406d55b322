"""Formulaires multipart des routes audio : champs OpenAI (`name` ou `name[]`) et extras."""

import asyncio
import base64
import binascii
from typing import Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from app.core.audio import Audio, decode_audio
from app.core.errors import InvalidRequest, PayloadTooLarge
from app.services.attribution import KnownSpeaker
from app.services.diarization import check_speaker_counts

LIST_FIELDS = {"timestamp_granularities", "known_speaker_names", "known_speaker_references", "include"}
MAX_KNOWN_SPEAKERS = 4
MAX_FIELD_BYTES = 16 * 1024 * 1024


class AudioForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    response_format: str = "json"
    temperature: float = Field(0.0, ge=0, le=1)
    timestamp_granularities: list[Literal["word", "segment"]] = ["segment"]
    stream: bool = False
    known_speaker_names: list[str] = []
    known_speaker_references: list[str] = []
    chunking_strategy: str | None = None
    include: list[str] = []
    # --- extras de la passerelle -------------------------------------------------------
    target_language: str | None = None
    """Langue de sortie (traduction) ; par défaut celle de l'audio (transcription) ou `en`."""
    punctuation: bool = True
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    @model_validator(mode="after")
    def _check_speakers(self) -> "AudioForm":
        check_speaker_counts(self.num_speakers, self.min_speakers, self.max_speakers)  # 400 en français
        return self

    @property
    def speaker_counts(self) -> dict[str, int | None]:
        return {"num_speakers": self.num_speakers, "min_speakers": self.min_speakers, "max_speakers": self.max_speakers}


async def read_form(request: Request) -> tuple[AudioForm, UploadFile]:
    settings = request.app.state.settings
    try:  # les extraits de référence (URL data:) dépassent la limite de 1 Mo par champ de Starlette
        form = await request.form(max_part_size=MAX_FIELD_BYTES)
    except HTTPException as exc:
        raise InvalidRequest(f"Formulaire multipart invalide : {exc.detail}") from exc
    data: dict[str, object] = {}
    for raw_key, value in form.multi_items():
        key = raw_key.removesuffix("[]")
        if key == "file" or isinstance(value, UploadFile):
            continue
        if key in LIST_FIELDS:
            data.setdefault(key, []).append(value)  # type: ignore[union-attr]
        else:
            data[key] = value
    upload = form.get("file")
    errors = []
    if not isinstance(upload, UploadFile):
        errors.append({"type": "missing", "loc": ("file",), "msg": "Field required", "input": None})
    try:
        parsed = AudioForm.model_validate(data)
    except ValidationError as exc:
        errors.extend(exc.errors())
    if errors:
        raise RequestValidationError(errors)
    request.state.model = parsed.model
    max_bytes = settings.max_upload_mb * 1_000_000
    if upload.size is not None and upload.size > max_bytes:
        raise PayloadTooLarge(f"Fichier trop volumineux : plus de {settings.max_upload_mb:g} Mo (MAX_UPLOAD_MB).")
    return parsed, upload


async def read_audio(request: Request, upload: UploadFile) -> Audio:
    limit = request.app.state.settings.max_audio_duration_s
    return await asyncio.to_thread(decode_audio, upload.file, limit)


def check_format(response_format: str, allowed: tuple[str, ...]) -> str:
    if response_format not in allowed:
        raise InvalidRequest(
            f"Format de réponse inconnu : « {response_format} ». Formats possibles : {', '.join(allowed)}.",
            param="response_format",
        )
    return response_format


async def read_known_speakers(form: AudioForm) -> list[KnownSpeaker]:
    names, references = form.known_speaker_names, form.known_speaker_references
    if len(names) != len(references):
        raise InvalidRequest(
            "known_speaker_names[] et known_speaker_references[] doivent avoir le même nombre d'éléments.",
            param="known_speaker_references",
        )
    if len(names) > MAX_KNOWN_SPEAKERS:
        raise InvalidRequest(f"Au plus {MAX_KNOWN_SPEAKERS} locuteurs connus.", param="known_speaker_names")
    speakers = []
    for name, reference in zip(names, references, strict=True):
        clip = await asyncio.to_thread(decode_audio, _data_url_bytes(reference), 30.0)
        if not 1.5 <= clip.duration <= 10.5:
            raise InvalidRequest(
                f"L'extrait de référence de « {name} » dure {clip.duration:.1f} s ; il doit durer de 2 à 10 s.",
                param="known_speaker_references",
            )
        speakers.append(KnownSpeaker(name.strip() or "?", clip.samples))
    return speakers


def _data_url_bytes(reference: str) -> bytes:
    header, _, payload = reference.partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        raise InvalidRequest(
            "Chaque référence de locuteur doit être une URL data: en base64 (data:audio/wav;base64,...).",
            param="known_speaker_references",
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("Référence de locuteur : base64 invalide.", param="known_speaker_references") from exc
