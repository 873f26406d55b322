"""Transcription, traduction et diarisation par les routes audio, avec Canary et pyannote réels."""

import asyncio
import base64
import itertools
import json
from pathlib import Path

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from tests.conftest import API_KEY, bearer
from tests.speech import CONVERSIONS, convert, duration, loop_to, make_dialogue, say

TOLERANCE_S = 0.1


@pytest.fixture(scope="session")
def speech(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("parole")
    dialogue = make_dialogue(directory)
    files = {"wav": dialogue, **{ext: convert(dialogue, ext) for ext in CONVERSIONS}}
    files["long"] = loop_to(dialogue, 600, directory / "long.flac")
    files["alice"] = say("Bonjour, je m'appelle Alice et je parle français.", "fr", directory / "alice.wav")
    files["bob"] = say("Hello, my name is Bob and I speak English.", "en-us+f3", directory / "bob.wav")
    return files


def assert_timeline(segments: list[dict], total: float) -> None:
    """Segments ordonnés, dans l'enregistrement, de durée positive."""
    previous_start = 0.0
    for segment in segments:
        assert 0 <= segment["start"] < segment["end"] <= total + TOLERANCE_S
        assert segment["start"] >= previous_start
        previous_start = segment["start"]


def post(http: httpx.Client, route: str, path: Path, **fields) -> httpx.Response:
    with path.open("rb") as handle:
        return http.post(route, files={"file": (path.name, handle)}, data=fields, headers=bearer(API_KEY))


@pytest.mark.parametrize("container", ["wav", "flac", "mp3", "ogg", "webm", "m4a"])
def test_transcribe_any_container(http: httpx.Client, speech, container: str):
    response = post(http, "/api/audio/transcribe", speech[container])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"]
    assert body["language"] == "fr"
    assert body["duration"] == pytest.approx(duration(speech["wav"]), abs=0.15)
    assert_timeline(body["segments"], body["duration"])


def test_sdk_json_and_text(client: OpenAI, speech):
    with speech["mp3"].open("rb") as audio:
        result = client.audio.transcriptions.create(model="canary", file=audio, response_format="json")
    assert result.text
    with speech["mp3"].open("rb") as audio:
        text = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="text")
    assert isinstance(text, str) and text.strip() == result.text


def test_sdk_srt_and_vtt(client: OpenAI, speech):
    with speech["wav"].open("rb") as audio:
        srt = client.audio.transcriptions.create(model="canary", file=audio, response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:")
    with speech["wav"].open("rb") as audio:
        vtt = client.audio.transcriptions.create(model="canary", file=audio, response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:")


def test_sdk_verbose_json_with_words(client: OpenAI, speech):
    total = duration(speech["wav"])
    with speech["wav"].open("rb") as audio:
        result = client.audio.transcriptions.create(
            model="canary",
            file=audio,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            language="fr",
        )
    assert result.language == "fr"
    assert result.duration == pytest.approx(total, abs=TOLERANCE_S)
    segments = [segment.model_dump() for segment in result.segments]
    assert_timeline(segments, total)
    assert result.text == " ".join(segment["text"] for segment in segments)
    assert result.words, "aucun mot horodaté"
    assert_timeline([word.model_dump() for word in result.words], total)


def test_sdk_diarized_json_with_two_speakers(client: OpenAI, speech):
    total = duration(speech["wav"])
    with speech["wav"].open("rb") as audio:
        result = client.audio.transcriptions.create(
            model="canary",
            file=audio,
            response_format="diarized_json",
            extra_body={"num_speakers": 2},
        )
    body = result.model_dump() if hasattr(result, "model_dump") else json.loads(result)
    assert body["task"] == "transcribe"
    assert body["duration"] == pytest.approx(total, abs=TOLERANCE_S)
    segments = body["segments"]
    assert_timeline(segments, total)
    assert {segment["speaker"] for segment in segments} == {"A", "B"}
    assert all(segment["type"] == "transcript.text.segment" and segment["text"] for segment in segments)
    assert body["text"] == " ".join(segment["text"] for segment in segments)


def data_url(path: Path) -> str:
    return "data:audio/wav;base64," + base64.b64encode(path.read_bytes()).decode()


def test_known_speaker_names_replace_letters(http: httpx.Client, speech):
    fields = {
        "model": "canary",
        "response_format": "diarized_json",
        "num_speakers": "2",
        "known_speaker_names[]": ["Alice", "Bob"],
        "known_speaker_references[]": [data_url(speech["alice"]), data_url(speech["bob"])],
    }
    response = post(http, "/v1/audio/transcriptions", speech["wav"], **fields)
    assert response.status_code == 200, response.text
    assert {segment["speaker"] for segment in response.json()["segments"]} == {"Alice", "Bob"}


def test_stream_events_concatenate_to_final_text(client: OpenAI, speech):
    with speech["wav"].open("rb") as audio:
        events = list(client.audio.transcriptions.create(model="canary", file=audio, stream=True))
    deltas = [event.delta for event in events if event.type == "transcript.text.delta"]
    done = events[-1]
    assert done.type == "transcript.text.done"
    assert deltas and "".join(deltas) == done.text


def test_diarized_stream_sends_segments(http: httpx.Client, speech):
    fields = {"model": "canary", "response_format": "diarized_json", "stream": "true", "num_speakers": "2"}
    with speech["wav"].open("rb") as handle:
        response = http.post("/v1/audio/transcriptions", files={"file": handle}, data=fields, headers=bearer(API_KEY))
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
    segments = [event for event in events if event["type"] == "transcript.text.segment"]
    done = events[-1]
    assert done["type"] == "transcript.text.done"
    assert segments and " ".join(segment["text"] for segment in segments) == done["text"]
    assert {segment["speaker"] for segment in segments} <= {"A", "B"}
    assert response.text.rstrip().endswith("data: [DONE]")


def test_translation_to_english_and_other_targets(client: OpenAI, http: httpx.Client, speech):
    with speech["wav"].open("rb") as audio:
        result = client.audio.translations.create(model="canary", file=audio)
    assert result.text
    response = post(
        http,
        "/v1/audio/translations",
        speech["wav"],
        language="en",
        target_language="de",
        response_format="verbose_json",
    )
    assert response.status_code == 200, response.text
    assert response.json()["task"] == "translate" and response.json()["language"] == "de"
    refused = post(http, "/v1/audio/translations", speech["wav"], language="fr", target_language="de")
    assert refused.status_code == 400
    assert "vers l'anglais ou depuis l'anglais" in refused.json()["error"]["message"]


def test_diarization_route_json_and_rttm(http: httpx.Client, speech):
    total = duration(speech["wav"])
    response = post(http, "/api/diarization/process", speech["wav"], num_speakers="2")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["duration"] == pytest.approx(total, abs=TOLERANCE_S)
    assert len(body["speakers"]) == 2
    assert_timeline(body["segments"], total)
    assert {segment["speaker"] for segment in body["segments"]} <= set(body["speakers"])
    exclusive = body["exclusive_segments"]
    assert_timeline(exclusive, total)
    assert all(a["end"] <= b["start"] + 1e-3 for a, b in itertools.pairwise(exclusive))

    bounded = post(http, "/api/diarization/process", speech["wav"], min_speakers="1", max_speakers="3").json()
    assert 1 <= len(bounded["speakers"]) <= 3

    rttm = post(http, "/api/diarization/process", speech["wav"], num_speakers="2", response_format="rttm")
    lines = rttm.text.splitlines()
    assert len(lines) == len(body["segments"])
    assert all(line.startswith("SPEAKER dialogue.wav 1 ") for line in lines)


def test_short_recording_keeps_every_segment_inside_it(http: httpx.Client, speech):
    """pyannote complète un fichier de moins de 10 s : rien ne doit dépasser la fin réelle."""
    total = duration(speech["alice"])
    body = post(http, "/api/diarization/process", speech["alice"]).json()
    assert body["duration"] == pytest.approx(total, abs=TOLERANCE_S)
    assert_timeline(body["segments"], total)
    assert_timeline(body["exclusive_segments"], total)
    diarized = post(http, "/v1/audio/transcriptions", speech["alice"], response_format="diarized_json").json()
    assert_timeline(diarized["segments"], total)


def test_ten_minute_recording(http: httpx.Client, speech):
    response = post(http, "/api/audio/transcribe", speech["long"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["duration"] == pytest.approx(600, abs=TOLERANCE_S)
    segments = body["segments"]
    assert_timeline(segments, 600)
    assert all(segment["end"] - segment["start"] <= 30 + 1e-6 for segment in segments)
    assert len(segments) >= 20
    assert segments[-1]["end"] > 570


async def test_eight_concurrent_transcriptions(async_client: AsyncOpenAI, speech):
    async def one(container: str) -> str:
        with speech[container].open("rb") as audio:
            result = await async_client.audio.transcriptions.create(model="canary", file=audio)
        return result.text

    texts = await asyncio.gather(*(one(c) for c in ["wav", "flac", "mp3", "ogg", "webm", "m4a", "wav", "mp3"]))
    assert all(texts)


@pytest.mark.parametrize(
    "route", ["/v1/audio/transcriptions", "/v1/audio/translations", "/api/audio/transcribe", "/api/diarization/process"]
)
def test_every_audio_route_requires_a_key(http: httpx.Client, speech, route: str):
    with speech["wav"].open("rb") as handle:
        response = http.post(route, files={"file": handle})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_bad_audio_inputs_get_clear_errors(http: httpx.Client, speech, tmp_path: Path):
    missing = http.post("/v1/audio/transcriptions", data={"model": "canary"}, headers=bearer(API_KEY))
    assert missing.status_code == 422
    assert missing.json()["error"]["message"] == "Requête invalide : file : champ obligatoire."

    cases = {
        "vide.wav": b"",
        "texte.mp3": b"Ceci n'est pas de l'audio." * 20,
        "tronque.mp3": speech["mp3"].read_bytes()[:300],
        "entete.wav": speech["wav"].read_bytes()[:44],
    }
    for name, content in cases.items():
        response = http.post(
            "/v1/audio/transcriptions",
            files={"file": (name, content)},
            data={"model": "canary"},
            headers=bearer(API_KEY),
        )
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"]["param"] == "file"

    invalid = {
        "response_format": ("xml", "Format de réponse inconnu"),
        "language": ("klingon", "Langue non prise en charge"),
        "num_speakers": ("0", "num_speakers doit être compris"),
    }
    for field, (value, message) in invalid.items():
        fields = {"model": "canary", field: value}
        if field == "num_speakers":
            fields["response_format"] = "diarized_json"
        response = post(http, "/v1/audio/transcriptions", speech["wav"], **fields)
        assert response.status_code == 400, response.text
        assert message in response.json()["error"]["message"]

    unknown = post(http, "/v1/audio/transcriptions", speech["wav"], model="inconnu")
    assert unknown.status_code == 404
    mismatch = post(
        http,
        "/v1/audio/transcriptions",
        speech["wav"],
        response_format="diarized_json",
        **{"known_speaker_names[]": ["Alice", "Bob"], "known_speaker_references[]": [data_url(speech["alice"])]},
    )
    assert mismatch.status_code == 400


def test_request_errors_come_before_decoding(http: httpx.Client):
    """Un paramètre invalide est signalé même si le fichier est illisible : l'audio n'est pas décodé."""
    for fields, message in (
        ({"num_speakers": "0"}, "num_speakers doit être compris"),
        ({"model": "inconnu"}, "Modèle inconnu"),
        ({"language": "xx"}, "Langue non prise en charge"),
    ):
        response = http.post(
            "/v1/audio/transcriptions", files={"file": ("x.wav", b"pas du son")}, data=fields, headers=bearer(API_KEY)
        )
        assert message in response.json()["error"]["message"], response.text


def test_oversized_upload_is_refused_before_reading(gateway):
    import socket

    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(
            b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: passerelle\r\n"
            + f"Authorization: Bearer {API_KEY}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 900000000\r\n\r\n"
        )
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 413")
    assert "Fichier trop volumineux" in reply


def test_gateway_still_serves_after_bad_inputs(client: OpenAI, speech):
    with pytest.raises(openai.BadRequestError):
        client.audio.transcriptions.create(model="canary", file=("x.wav", b"pas du son"))
    with speech["wav"].open("rb") as audio:
        assert client.audio.transcriptions.create(model="canary", file=audio).text
