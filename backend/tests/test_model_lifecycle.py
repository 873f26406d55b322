"""Machine à états de BaseModelWrapper et supervision du moteur vLLM (sans passerelle)."""

import asyncio
from pathlib import Path

import pytest

from app.core.errors import ModelNotReady, ModelOperationError
from app.core.settings import Settings
from app.models.base import BaseModelWrapper, ModelState
from app.models.spec import ModelSpec
from app.models.vllm_chat import VLLMChatWrapper, engine_cli_args


class CountingWrapper(BaseModelWrapper):
    """Enveloppe de test : un « moteur » qui compte ses démarrages et arrêts."""

    def __init__(self, *args, fail_first: int = 0, start_delay: float = 0.05, **kwargs):
        super().__init__(*args, **kwargs)
        self.starts = self.stops = 0
        self.fail_first = fail_first
        self.start_delay = start_delay

    async def _start(self, model_path: Path, gpu_device_ids: list[int]) -> None:
        self.starts += 1
        await asyncio.sleep(self.start_delay)
        if self.starts <= self.fail_first:
            raise RuntimeError("mémoire insuffisante sur le GPU 0")

    async def _stop(self) -> None:
        self.stops += 1


def make_spec(tmp_path: Path, **extra) -> ModelSpec:
    (tmp_path / "poids").mkdir(exist_ok=True)
    return ModelSpec.model_validate(
        {"key": "m", "kind": "chat", "engine": "test", "source": {"local_dir": tmp_path / "poids"}, **extra}
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(model_cache_dir=tmp_path, log_dir=tmp_path / "logs", unload_drain_timeout_s=5)


async def test_initial_state_reflects_files_on_disk(tmp_path: Path, settings: Settings):
    assert CountingWrapper(make_spec(tmp_path), settings).state is ModelState.DOWNLOADED
    missing = ModelSpec.model_validate(
        {"key": "x", "kind": "chat", "engine": "test", "source": {"local_dir": tmp_path / "absent"}}
    )
    assert CountingWrapper(missing, settings).state is ModelState.ABSENT


async def test_concurrent_loads_start_one_load(tmp_path: Path, settings: Settings):
    wrapper = CountingWrapper(make_spec(tmp_path), settings)
    await asyncio.gather(*(wrapper.load() for _ in range(5)))
    assert wrapper.starts == 1
    assert wrapper.state is ModelState.READY


async def test_requests_are_refused_with_503_until_ready(tmp_path: Path, settings: Settings):
    wrapper = CountingWrapper(make_spec(tmp_path), settings, start_delay=0.3)
    with pytest.raises(ModelNotReady, match="n'est pas chargé"):
        wrapper.acquire()
    loading = asyncio.create_task(wrapper.load())
    await asyncio.sleep(0.1)
    assert wrapper.state is ModelState.LOADING
    with pytest.raises(ModelNotReady, match="en cours de chargement") as caught:
        wrapper.acquire()
    assert caught.value.status_code == 503
    assert caught.value.headers == {"Retry-After": "10"}
    await loading
    async with wrapper.use():
        assert wrapper.inflight == 1
    assert wrapper.inflight == 0


async def test_unload_waits_for_inflight_requests_to_drain(tmp_path: Path, settings: Settings):
    wrapper = CountingWrapper(make_spec(tmp_path), settings)
    await wrapper.load()
    wrapper.acquire()
    unloading = asyncio.create_task(wrapper.unload())
    await asyncio.sleep(0.2)
    assert wrapper.state is ModelState.UNLOADING
    assert wrapper.stops == 0, "le moteur ne doit pas s'arrêter tant qu'une requête tourne"
    with pytest.raises(ModelNotReady, match="déchargement"):
        wrapper.acquire()
    wrapper.release()
    await asyncio.wait_for(unloading, 2)
    assert wrapper.stops == 1
    assert wrapper.state is ModelState.DOWNLOADED


async def test_unload_gives_up_waiting_after_the_drain_timeout(tmp_path: Path, settings: Settings):
    settings.unload_drain_timeout_s = 0.2
    wrapper = CountingWrapper(make_spec(tmp_path), settings)
    await wrapper.load()
    wrapper.acquire()
    await asyncio.wait_for(wrapper.unload(), 2)
    assert wrapper.stops == 1
    assert wrapper.state is ModelState.DOWNLOADED


async def test_load_and_unload_are_idempotent(tmp_path: Path, settings: Settings):
    wrapper = CountingWrapper(make_spec(tmp_path), settings)
    await wrapper.unload()
    assert wrapper.stops == 0
    await wrapper.load()
    await wrapper.load()
    assert wrapper.starts == 1
    await wrapper.unload()
    await wrapper.unload()
    assert wrapper.stops == 1


async def test_load_on_other_gpus_restarts_the_engine(tmp_path: Path, settings: Settings):
    wrapper = CountingWrapper(make_spec(tmp_path, gpu_device_ids=[0]), settings)
    await wrapper.load()
    assert wrapper.gpu_device_ids == [0]
    await wrapper.load([1, 2])
    assert (wrapper.starts, wrapper.stops, wrapper.gpu_device_ids) == (2, 1, [1, 2])


async def test_failed_load_leaves_error_in_french_and_can_be_retried(tmp_path: Path, settings: Settings):
    wrapper = CountingWrapper(make_spec(tmp_path), settings, fail_first=1)
    with pytest.raises(ModelOperationError):
        await wrapper.load()
    assert wrapper.state is ModelState.ERROR
    assert wrapper.error == (
        "Échec du chargement de « m » : mémoire insuffisante sur le GPU 0. "
        "Corrigez la cause puis relancez le chargement."
    )
    with pytest.raises(ModelNotReady, match="est en erreur : Échec du chargement"):
        wrapper.acquire()
    await wrapper.load()
    assert wrapper.state is ModelState.READY
    assert wrapper.error is None
    assert wrapper.snapshot()["state"] == "ready"


async def test_missing_local_model_dir_is_a_clear_error(tmp_path: Path, settings: Settings):
    spec = ModelSpec.model_validate(
        {"key": "qwen", "kind": "chat", "engine": "vllm", "source": {"local_dir": tmp_path / "nulle-part"}}
    )
    wrapper = VLLMChatWrapper(spec, settings)
    with pytest.raises(ModelOperationError, match="dossier local introuvable"):
        await wrapper.load()
    assert wrapper.state is ModelState.ERROR
    assert "make demo-models" in wrapper.error


async def test_vllm_crash_at_startup_is_reported_with_its_log(tmp_path: Path, settings: Settings):
    """Un vrai processus vLLM sur un dossier sans modèle valide : il meurt, l'erreur le dit."""
    model_dir = tmp_path / "poids"
    model_dir.mkdir()
    (model_dir / "config.json").write_text('{"model_type": "inconnu"}')
    spec = ModelSpec.model_validate(
        {"key": "qwen", "kind": "chat", "engine": "vllm", "source": {"local_dir": model_dir}}
    )
    wrapper = VLLMChatWrapper(spec, settings)
    with pytest.raises(ModelOperationError, match="s'est arrêté au démarrage"):
        await wrapper.load()
    assert wrapper.state is ModelState.ERROR
    assert "fin de son journal" in wrapper.error
    assert (settings.log_dir / "engine-qwen.log").stat().st_size > 0
    assert wrapper.child is None


def test_engine_args_become_cli_flags():
    args = engine_cli_args(
        {
            "max_model_len": 4096,
            "enforce_eager": True,
            "trust_remote_code": False,
            "limit_mm_per_prompt": {"image": 2},
        }
    )
    assert args == ["--max-model-len", "4096", "--enforce-eager", "--limit-mm-per-prompt", '{"image": 2}']
    with pytest.raises(ValueError, match="réservées"):
        engine_cli_args({"tensor_parallel_size": 2})
