"""Banc d'essai audio : regroupement en lots de Canary, facteur temps réel, réactivité.

    make bench-audio
    # équivalent : cd backend && python -m benchmarks.audio [--concurrency 8] [--rounds 3] [--long-s 600]

1. Débit de N transcriptions simultanées avec regroupement en lots (ASR_MAX_BATCH_SIZE=8)
   puis une à une (ASR_MAX_BATCH_SIZE=1), même charge, même exécution ; rapport des deux.
2. Facteur temps réel (durée de calcul / durée audio) de la transcription et de la
   diarisation d'un long enregistrement.
3. Latence de `GET /health` (p50, p99, max) pendant cette longue diarisation : l'inférence
   ne doit jamais bloquer la boucle d'événements.

La passerelle est lancée avec le profil demo, sans le modèle de conversation (vLLM
prendrait le processeur aux moteurs audio mesurés).
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from app.core.settings import REGISTRY_DIR
from tests.gateway_process import GatewayProcess
from tests.speech import loop_to, make_dialogue

API_KEY = "bench-key"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


def audio_only_registry(directory: Path) -> Path:
    registry = yaml.safe_load((REGISTRY_DIR / "demo.yaml").read_text(encoding="utf-8"))
    registry["models"].pop("qwen")
    path = directory / "audio.yaml"
    path.write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
    return path


def start_gateway(directory: Path, registry: Path, batch_size: int) -> GatewayProcess:
    env = {
        "MODEL_PROFILE": "demo",
        "MODEL_REGISTRY_FILE": str(registry),
        "OPENAI_API_KEYS": API_KEY,
        "LOG_DIR": str(directory / f"logs-{batch_size}"),
        "ASR_MAX_BATCH_SIZE": str(batch_size),
    }
    gateway = GatewayProcess(env, directory / f"gateway-{batch_size}.log")
    gateway.start()
    gateway.wait_ready(600)
    return gateway


async def post_file(client: httpx.AsyncClient, route: str, path: Path, **fields) -> float:
    started = time.perf_counter()
    with path.open("rb") as handle:
        response = await client.post(route, files={"file": handle}, data=fields, headers=HEADERS)
    response.raise_for_status()
    return time.perf_counter() - started


async def throughput(url: str, clip: Path, concurrency: int, rounds: int) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        await post_file(client, "/v1/audio/transcriptions", clip)  # échauffement
        started = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(post_file(client, "/v1/audio/transcriptions", clip) for _ in range(concurrency)))
        return concurrency * rounds / (time.perf_counter() - started)


async def long_file(url: str, recording: Path, seconds: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=3600) as client:
        wall = await post_file(client, "/api/audio/transcribe", recording)
        print(f"transcription de {seconds:.0f} s : {wall:.1f} s, facteur temps réel {wall / seconds:.3f}")

        latencies: list[float] = []
        diarization = asyncio.create_task(post_file(client, "/api/diarization/process", recording))
        while not diarization.done():
            started = time.perf_counter()
            (await client.get("/health")).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)
        wall = await diarization
        print(f"diarisation de {seconds:.0f} s : {wall:.1f} s, facteur temps réel {wall / seconds:.3f}")
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
        print(
            f"/health pendant la diarisation ({len(latencies)} appels) : p50 {statistics.median(latencies):.1f} ms,"
            f" p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms (cible p99 < 50 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--long-s", type=float, default=600.0, help="durée du long enregistrement (s)")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="bench-audio-"))
    registry = audio_only_registry(directory)
    clip = make_dialogue(directory)
    recording = loop_to(clip, args.long_s, directory / "long.flac")
    rates = {}
    for batch_size in (8, 1):
        gateway = start_gateway(directory, registry, batch_size)
        try:
            rates[batch_size] = asyncio.run(throughput(gateway.url, clip, args.concurrency, args.rounds))
            print(f"ASR_MAX_BATCH_SIZE={batch_size} : {rates[batch_size]:.2f} requêtes/s", flush=True)
            if batch_size == 8:
                asyncio.run(long_file(gateway.url, recording, args.long_s))
        finally:
            gateway.stop()
    print(f"{args.concurrency} transcriptions simultanées : lots / une à une = {rates[8] / rates[1]:.2f} (cible >= 3)")


if __name__ == "__main__":
    main()
