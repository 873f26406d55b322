"""Banc d'essai du relais de conversation : la même charge en flux, via la passerelle et
directement sur le serveur vLLM enfant, dans la même exécution.

    make bench                      # démarre une passerelle de démonstration
    python -m benchmarks.chat_proxy --concurrency 16 --requests 64 --max-tokens 64

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

from tests.gateway_process import GatewayProcess

ADMIN_KEY = "bench-admin"
API_KEY = "bench-key"


@dataclass
class RunStats:
    ttft: list[float] = field(default_factory=list)
    itl: list[float] = field(default_factory=list)
    tokens: int = 0
    wall: float = 0.0

    def merge(self, other: "RunStats") -> None:
        self.ttft += other.ttft
        self.itl += other.itl
        self.tokens += other.tokens
        self.wall += other.wall

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
        queue = list(range(args.requests))

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


async def compare(gateway_url: str, engine_url: str, args: argparse.Namespace) -> None:
    gateway_headers = {"Authorization": f"Bearer {API_KEY}"}
    await run_load(engine_url, {}, argparse.Namespace(**{**vars(args), "requests": args.concurrency}))
    direct, relayed = RunStats(), RunStats()
    for round_index in range(args.rounds):
        direct.merge(await run_load(engine_url, {}, args))
        relayed.merge(await run_load(gateway_url, gateway_headers, args))
        print(f"tour {round_index + 1}/{args.rounds} terminé", flush=True)
    print(
        f"\n{args.requests} requêtes x {args.rounds} tours, {args.concurrency} flux simultanés, "
        f"{args.max_tokens} jetons par réponse, {os.cpu_count()} cœurs"
    )
    print(describe("direct", direct))
    print(describe("passerelle", relayed))
    added = (percentile(relayed.ttft, 50) - percentile(direct.ttft, 50)) * 1000
    print(f"\ndébit passerelle / direct : {relayed.throughput / direct.throughput:.3f} (cible >= 0,97)")
    print(f"TTFT p50 ajouté par la passerelle : {added:+.1f} ms (cible <= 5 ms)")
    print(
        f"ITL p50 passerelle / direct : {statistics.median(relayed.itl) / statistics.median(direct.itl):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=48, help="requêtes par tour et par chemin")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

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
        status = httpx.get(
            f"{gateway.url}/api/admin/status", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ).json()
        port = next(m for m in status["models"] if m["key"] == "qwen")["engine_process"]["port"]
        asyncio.run(compare(gateway.url, f"http://127.0.0.1:{port}", args))
    finally:
        gateway.stop()


if __name__ == "__main__":
    main()
