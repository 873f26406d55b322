"""Découpe en fenêtres, fusion des tours, noms des locuteurs et formats de sous-titres."""

import itertools

import numpy as np
import pytest

from app.core.audio import SAMPLE_RATE, Audio
from app.services.attribution import letter_names, match_known, speaker_spans
from app.services.formats import to_srt, to_vtt
from app.services.transcripts import Segment, Transcript, Turn
from app.services.windows import plan_windows


def speech_with_pauses(seconds: float, pauses: list[float]) -> np.ndarray:
    rng = np.random.default_rng(0)
    samples = rng.normal(0, 0.3, int(seconds * SAMPLE_RATE)).astype(np.float32)
    for pause in pauses:
        samples[int(pause * SAMPLE_RATE) : int((pause + 0.4) * SAMPLE_RATE)] = 0
    return samples


def test_windows_cover_the_recording_and_cut_in_silences():
    samples = speech_with_pauses(100, pauses=[27.0, 55.0, 81.0])
    windows = plan_windows(samples, 0.0, 100.0, 30.0)
    assert windows[0][0] == 0.0 and windows[-1][1] == 100.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert all(end - start <= 30.0 for start, end in windows)
    cuts = [end for _, end in windows[:-1]]
    assert cuts == pytest.approx([27.2, 55.2, 81.2], abs=0.2)


def test_short_recording_is_one_window():
    assert plan_windows(np.zeros(SAMPLE_RATE * 5, np.float32), 0.0, 5.0, 30.0) == [(0.0, 5.0)]


def test_speaker_turns_are_merged_then_split():
    audio = Audio(speech_with_pauses(120, pauses=[]))
    turns = [
        Turn("S0", 0.0, 4.0),
        Turn("S0", 4.5, 9.0),  # même locuteur après une courte pause : fusionné
        Turn("S1", 9.2, 9.25),  # trop court : ignoré
        Turn("S1", 10.0, 80.0),  # trop long : recoupé
    ]
    spans = speaker_spans(audio, turns, 30.0)
    assert [(s.speaker, s.start) for s in spans[:2]] == [("S0", 0.0), ("S1", 10.0)]
    assert spans[0].end == 9.0
    assert spans[-1].end == 80.0 and len(spans) == 4
    assert all(s.end - s.start <= 30.0 for s in spans)


def test_letter_names_follow_order_of_appearance():
    names = letter_names([f"SPEAKER_{i:02d}" for i in range(28)])
    assert names["SPEAKER_00"] == "A" and names["SPEAKER_25"] == "Z" and names["SPEAKER_27"] == "AB"


def test_known_speakers_match_by_cosine_similarity():
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0]])
    known = {"Bob": np.array([0.1, 0.9]), "Alice": np.array([0.9, 0.2])}
    assert match_known(["S0", "S1"], embeddings, known) == {"S0": "Alice", "S1": "Bob"}


def test_subtitles_carry_speakers_and_clock():
    transcript = Transcript(
        "transcribe",
        "fr",
        3725.5,
        [Segment(0, 0.0, 1.5, "Bonjour", "A"), Segment(1, 3723.25, 3725.5, "Au revoir", "B")],
    )
    assert to_srt(transcript).splitlines()[:3] == ["1", "00:00:00,000 --> 00:00:01,500", "A : Bonjour"]
    vtt = to_vtt(transcript).splitlines()
    assert vtt[0] == "WEBVTT" and "01:02:03.250 --> 01:02:05.500" in vtt and "<v B>Au revoir" in vtt
