"""Flux concurrents, client lent, déconnexion en plein flux."""

import asyncio
import json
import socket
import time

import httpx
from openai import AsyncOpenAI, OpenAI

from tests.conftest import API_KEY, admin_status, bearer, wait_until

USER = [{"role": "user", "content": "Raconte une histoire."}]


async def test_32_concurrent_streams_all_complete(async_client: AsyncOpenAI):
    async def one_stream(index: int) -> tuple[str, int]:
        stream = await async_client.chat.completions.create(
            model="qwen",
            messages=[{"role": "user", "content": f"Histoire numéro {index}"}],
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True},
        )
        text, usage = [], None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
            if chunk.usage:
                usage = chunk.usage
        return "".join(text), usage.completion_tokens

    results = await asyncio.gather(*(one_stream(i) for i in range(32)))
    assert len(results) == 32
    for text, completion_tokens in results:
        assert text
        assert completion_tokens == 12


def _engine_running_requests(http: httpx.Client) -> float:
    port = admin_status(http)["qwen"]["engine_process"]["port"]
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("vllm:num_requests_running")
    )


def test_client_disconnect_mid_stream_frees_the_request(gateway, http: httpx.Client):
    body = {"model": "qwen", "messages": USER, "max_tokens": 3000, "ignore_eos": True, "stream": True}
    with httpx.Client(base_url=gateway.url, timeout=60) as session:
        with session.stream("POST", "/v1/chat/completions", json=body, headers=bearer(API_KEY)) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            received = [next(lines) for _ in range(6)]
            assert any(line.startswith("data: ") for line in received)
            assert admin_status(http)["qwen"]["inflight"] == 1
            assert wait_until(lambda: _engine_running_requests(http) >= 1)
    # Fermeture du client : la passerelle relâche la requête et vLLM l'abandonne.
    assert wait_until(lambda: admin_status(http)["qwen"]["inflight"] == 0)
    assert wait_until(lambda: _engine_running_requests(http) == 0)


def _stalled_stream(gateway, max_tokens: int) -> socket.socket:
    """Un client qui demande un long flux puis ne lit plus rien (tampon de réception minuscule)."""
    body = json.dumps(
        {"model": "qwen", "messages": USER, "max_tokens": max_tokens, "ignore_eos": True, "stream": True}
    ).encode()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", gateway.port))
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: passerelle\r\n"
        f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def test_slow_client_does_not_stall_other_streams(gateway, client: OpenAI, http: httpx.Client):
    stalled = _stalled_stream(gateway, max_tokens=3000)
    try:
        assert wait_until(lambda: admin_status(http)["qwen"]["inflight"] == 1)
        started = time.monotonic()
        for _ in range(3):
            stream = client.chat.completions.create(model="qwen", messages=USER, max_tokens=8, stream=True)
            assert [chunk for chunk in stream]
        assert time.monotonic() - started < 30
        time.sleep(2)
        # Le flux bloqué est toujours tenu : la contre-pression l'a suspendu, sans rien perdre.
        assert admin_status(http)["qwen"]["inflight"] == 1
    finally:
        stalled.close()
    # Un client qui part pendant que l'envoi est bloqué libère aussi sa requête.
    assert wait_until(lambda: admin_status(http)["qwen"]["inflight"] == 0)
    assert wait_until(lambda: _engine_running_requests(http) == 0)
