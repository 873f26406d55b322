"""File et lots de CanaryWrapper, sans le réseau de neurones : `_infer` est remplacé par un
enregistreur lent, pour observer la formation des lots et le déchargement forcé."""

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ModelNotReady, ModelOperationError
from app.core.settings import Settings
from app.models.canary import AsrOptions, AsrResult, CanaryWrapper
from app.models.spec import ModelSpec

FR = AsrOptions("fr", "fr")


class RecordingCanary(CanaryWrapper):
    def __init__(self, *args, delay: float = 0.05, fail: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[int, AsrOptions]] = []
        self.delay, self.fail_next = delay, fail

    def _restore(self, nemo_file: Path, gpu_device_ids: list[int]):
        return object()

    def _infer(self, clips, options):
        self.calls.append((len(clips), options))
        time.sleep(self.delay)
        if self.fail_next:
            raise RuntimeError("mémoire insuffisante")
        return [AsrResult(f"{len(clip)}") for clip in clips]


@pytest.fixture
def canary(tmp_path: Path):
    (tmp_path / "m.nemo").write_bytes(b"")
    spec = ModelSpec.model_validate(
        {"key": "canary", "kind": "asr", "engine": "nemo", "source": {"local_dir": tmp_path}}
    )
    settings = Settings(
        model_cache_dir=tmp_path, asr_max_batch_size=4, asr_batch_wait_ms=30, unload_drain_timeout_s=0.1
    )
    return lambda **kwargs: RecordingCanary(spec, settings, **kwargs)


def clip(samples: int) -> np.ndarray:
    return np.zeros(samples, np.float32)


async def test_concurrent_requests_share_batches(canary):
    wrapper = canary()
    await wrapper.load()
    results = await asyncio.gather(*(asyncio.gather(*wrapper.submit([clip(n)], FR)) for n in range(1, 9)))
    assert [r[0].text for r in results] == [str(n) for n in range(1, 9)]
    assert [size for size, _ in wrapper.calls] == [4, 4]


async def test_different_options_never_mix_in_one_call(canary):
    wrapper = canary()
    await wrapper.load()
    english = AsrOptions("fr", "en")
    await asyncio.gather(*wrapper.submit([clip(1), clip(2)], FR), *wrapper.submit([clip(3)], english))
    assert sorted((size, options.target_lang) for size, options in wrapper.calls) == [(1, "en"), (2, "fr")]


async def test_engine_failure_reaches_every_request_of_the_batch(canary):
    wrapper = canary(fail=True)
    await wrapper.load()
    futures = wrapper.submit([clip(1), clip(2)], FR)
    for future in futures:
        with pytest.raises(ModelOperationError, match="mémoire insuffisante"):
            await future
    wrapper.fail_next = False
    assert (await asyncio.gather(*wrapper.submit([clip(5)], FR)))[0].text == "5"


async def test_forced_unload_rejects_queued_and_running_work(canary):
    wrapper = canary(delay=0.5)
    await wrapper.load()
    wrapper.acquire()  # une requête qui ne se termine pas dans le délai de drainage
    futures = wrapper.submit([clip(n) for n in range(1, 7)], FR)  # 4 en cours, 2 en file
    await asyncio.sleep(0.1)
    await wrapper.unload()
    for future in futures:
        with pytest.raises(ModelNotReady, match="déchargé"):
            await future
