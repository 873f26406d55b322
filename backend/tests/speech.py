"""Parole de test fabriquée sur place : voix espeak-ng, assemblées et converties par sox et FFmpeg."""

import subprocess
from pathlib import Path

TURNS = [
    ("fr", "Bonjour à tous, nous commençons la réunion de la passerelle."),
    ("en-us+f3", "Thank you, I will present the results of the last quarter."),
    ("fr", "Très bien, les chiffres de vente sont en hausse ce mois-ci."),
    ("en-us+f3", "Yes, and the new customers are very satisfied with the service."),
]
CONVERSIONS = {
    "flac": ["-ar", "48000", "-ac", "2"],
    "mp3": ["-ar", "44100", "-ac", "2", "-b:a", "64k"],
    "ogg": ["-ar", "48000", "-ac", "1", "-c:a", "libopus"],
    "webm": ["-ar", "48000", "-ac", "2", "-c:a", "libopus"],
    "m4a": ["-ar", "22050", "-ac", "1", "-c:a", "aac"],
}


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def say(text: str, voice: str, path: Path) -> Path:
    run("espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text)
    return path


def silence(path: Path, seconds: float) -> Path:
    run("sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(path), "trim", "0.0", str(seconds))
    return path


def make_dialogue(directory: Path) -> Path:
    """Quatre tours de parole, deux voix, séparés par des silences ; WAV 16 kHz mono."""
    parts = []
    for index, (voice, text) in enumerate(TURNS):
        parts.append(say(text, voice, directory / f"turn{index}.wav"))
        parts.append(silence(directory / f"gap{index}.wav", 0.7))
    target = directory / "dialogue.wav"
    run("sox", *map(str, parts), str(target), "rate", "16000")
    return target


def convert(source: Path, extension: str) -> Path:
    target = source.with_suffix(f".{extension}")
    run("ffmpeg", "-loglevel", "error", "-y", "-i", str(source), *CONVERSIONS[extension], str(target))
    return target


def loop_to(source: Path, seconds: float, target: Path) -> Path:
    run(
        "ffmpeg", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(source),
        "-t", str(seconds), "-ar", "16000", "-ac", "1", str(target),
    )  # fmt: skip
    return target


def duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return float(out.stdout.strip())
