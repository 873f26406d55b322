"""Banc d'essai du relais de conversation : la même charge en flux, via la passerelle et
directement sur le serveur vLLM enfant, dans la même exécution.

    make bench                      # démarre une passerelle de démonstration
    python -m benchmarks.chat_proxy --concurrency 1,16 --requests-per-stream 24 --max-tokens 128
    python -m benchmarks.chat_proxy --gateway-url http://hote:8000 --api-key ... --admin-key ...

Affiche TTFT p50/p99, latence inter-jetons p50/p99 et débit de jetons de sortie pour
les deux chemins, puis les rapports passerelle / direct. Les tours alternent
direct / passerelle pour que la dérive de la machine touche les deux de la même façon.
"""

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from tests.gateway_process import GatewayProcess

ADMIN_KEY = "bench-admin"
API_KEY = "bench-key"


@dataclass
class RunStats:
    ttft: list[float] = field(default_factory=list)
    itl: list[float] = field(default_factory=list)
    tokens: int = 0
    wall: float = 0.0
    cpu: float = 0.0

    def merge(self, other: "RunStats") -> None:
        self.ttft += other.ttft
        self.itl += other.itl
        self.tokens += other.tokens
        self.wall += other.wall
        self.cpu += other.cpu

    @property
    def throughput(self) -> float:
        return self.tokens / self.wall if self.wall else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def one_stream(client: httpx.AsyncClient, url: str, body: dict, stats: RunStats) -> None:
    start = time.perf_counter()
    last = None
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                stats.tokens += chunk["usage"]["completion_tokens"]
            if not chunk.get("choices") or not chunk["choices"][0]["delta"].get("content"):
                continue
            now = time.perf_counter()
            if last is None:
                stats.ttft.append(now - start)
            else:
                stats.itl.append(now - last)
            last = now


async def run_load(base_url: str, headers: dict, args: argparse.Namespace) -> RunStats:
    stats = RunStats()
    body = {
        "model": "qwen",
        "messages": [{"role": "user", "content": "Raconte une longue histoire de passerelles."}],
        "max_tokens": args.max_tokens,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=600, limits=limits) as client:
        queue = list(range(args.concurrency * args.requests_per_stream))

        async def worker() -> None:
            while queue:
                queue.pop()
                await one_stream(client, f"{base_url}/v1/chat/completions", body, stats)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        stats.wall = time.perf_counter() - started
    return stats


def describe(name: str, stats: RunStats) -> str:
    ttft = [percentile(stats.ttft, q) * 1000 for q in (50, 99)]
    itl = [percentile(stats.itl, q) * 1000 for q in (50, 99)]
    return (
        f"{name:<10} TTFT p50 {ttft[0]:8.1f} ms  p99 {ttft[1]:8.1f} ms"
        f"  ITL p50 {itl[0]:6.1f} ms  p99 {itl[1]:7.1f} ms"
        f"  débit {stats.throughput:8.1f} jetons/s"
    )


def cpu_seconds(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return times.user + times.system


async def compare_at(
    gateway_url: str, engine_url: str, args: argparse.Namespace, gateway: psutil.Process | None
) -> None:
    headers = {"Authorization": f"Bearer {args.api_key}"}
    await run_load(engine_url, {}, argparse.Namespace(**{**vars(args), "requests_per_stream": 1}))
    direct, relayed = RunStats(), RunStats()
    for _ in range(args.rounds):
        direct.merge(await run_load(engine_url, {}, args))
        before = cpu_seconds(gateway)
        stats = await run_load(gateway_url, headers, args)
        stats.cpu = cpu_seconds(gateway) - before
        relayed.merge(stats)
    total = args.concurrency * args.requests_per_stream * args.rounds
    print(f"\n== {args.concurrency} flux simultanés, {total} requêtes par chemin, {args.max_tokens} jetons")
    print(describe("direct", direct))
    print(describe("passerelle", relayed))
    added = (percentile(relayed.ttft, 50) - percentile(direct.ttft, 50)) * 1000
    print(f"débit passerelle / direct : {relayed.throughput / direct.throughput:.3f} (cible >= 0,97)")
    print(f"TTFT p50 ajouté par la passerelle : {added:+.1f} ms (cible <= 5 ms)")
    itl_ratio = statistics.median(relayed.itl) / statistics.median(direct.itl)
    print(f"ITL p50 passerelle / direct : {itl_ratio:.3f}")
    if gateway is not None:
        print(f"CPU de la passerelle : {relayed.cpu / relayed.tokens * 1e6:.0f} µs par jeton relayé")


async def compare(
    gateway_url: str, engine_url: str, args: argparse.Namespace, gateway: psutil.Process | None = None
) -> None:
    print(f"Machine : {os.cpu_count()} cœurs ; moteur : {engine_url}", flush=True)
    for concurrency in args.concurrency:
        await compare_at(
            gateway_url, engine_url, argparse.Namespace(**{**vars(args), "concurrency": concurrency}), gateway
        )


def engine_url(gateway_url: str, admin_key: str) -> str:
    """Adresse du serveur vLLM enfant, lue dans l'état de la passerelle."""
    status = httpx.get(f"{gateway_url}/api/admin/status", headers={"Authorization": f"Bearer {admin_key}"})
    status.raise_for_status()
    qwen = next(model for model in status.json()["models"] if model["key"] == "qwen")
    return f"http://127.0.0.1:{qwen['engine_process']['port']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 16],
        help="nombres de flux simultanés, séparés par des virgules (défaut : 1,16)",
    )
    parser.add_argument("--requests-per-stream", type=int, default=24, help="requêtes par flux et par tour")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--gateway-url", help="passerelle déjà lancée (sinon une passerelle demo)")
    parser.add_argument("--api-key", default=API_KEY)
    parser.add_argument("--admin-key", default=ADMIN_KEY)
    args = parser.parse_args()
    if args.gateway_url:
        asyncio.run(compare(args.gateway_url, engine_url(args.gateway_url, args.admin_key), args))
        return

    logs = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {
        "MODEL_PROFILE": "demo",
        "OPENAI_API_KEYS": API_KEY,
        "ADMIN_API_KEYS": ADMIN_KEY,
        "LOG_DIR": str(logs),
    }
    gateway = GatewayProcess(env, logs / "gateway.log")
    print("Démarrage de la passerelle de démonstration...", flush=True)
    gateway.start()
    try:
        gateway.wait_ready(900)
        process = psutil.Process(gateway.process.pid)
        asyncio.run(compare(gateway.url, engine_url(gateway.url, ADMIN_KEY), args, process))
    finally:
        gateway.stop()


if __name__ == "__main__":
    main()
