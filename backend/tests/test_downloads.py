"""Téléchargements depuis le Hub (`app.models.hub`) contre un faux Hub local : ni passerelle, ni réseau."""

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from huggingface_hub import constants

from app.models import hub as downloads
from app.models.hub import DownloadError, DownloadProgress, download_snapshot, is_cached
from tests.fake_hub import FakeHub, closed_port_url

TOKEN = "hf_FauxJetonTresReconnaissable0123456789xyz"
REPO = "demo/petit"
STORAGE = "models--demo--petit"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """`http_get` lit par blocs de DOWNLOAD_CHUNK_SIZE (10 Mio) : des blocs de 64 Kio rendent visibles la progression
    et la reprise au milieu d'un fichier de 2 Mo."""
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        yield server


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "hub"


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture aussi les journaux de huggingface_hub (qui ne remontent pas au logger racine)."""
    library = logging.getLogger("huggingface_hub")
    library.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    yield caplog
    library.removeHandler(caplog.handler)


def download(
    endpoint: str,
    cache: Path,
    repo_id: str = REPO,
    revision: str = "main",
    token: str | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[DownloadProgress], Any] | None = None,
) -> tuple[Path | DownloadError, list[DownloadProgress]]:
    """`download_snapshot` dans un thread, comme la passerelle ; rend le dossier (ou l'erreur) et la progression."""
    seen: list[DownloadProgress] = []

    def record(progress: DownloadProgress) -> None:
        seen.append(progress)
        if on_progress is not None:
            on_progress(progress)

    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(download_snapshot, repo_id, revision, cache, token, record, cancel, endpoint)
        try:
            return future.result(timeout=60), seen
        except DownloadError as error:
            return error, seen


def assert_identical(snapshot: Path, hub: FakeHub) -> None:
    files = hub.repos[REPO].files
    assert sorted(path.name for path in snapshot.iterdir()) == sorted(files)
    for name, data in files.items():
        assert (snapshot / name).read_bytes() == data, name


def incomplete_blob(cache: Path, hub: FakeHub, name: str) -> Path:
    return cache / STORAGE / "blobs" / f"{hub.repos[REPO].etag(name)}.incomplete"


def test_full_download_reports_progress_and_fills_the_cache(hub: FakeHub, cache: Path) -> None:
    hub.throttle_bps = 3_000_000
    total = sum(len(data) for data in hub.repos[REPO].files.values())
    assert is_cached(REPO, "main", cache) is None

    snapshot, seen = download(hub.url, cache)

    assert isinstance(snapshot, Path), snapshot
    assert_identical(snapshot, hub)
    mid_file = [p for p in seen if p.current_file == "model.safetensors" and 200_000 < p.bytes_done < 2_200_000]
    assert mid_file, "aucune progression observée au milieu du gros fichier"
    assert all(0 < p.bytes_done < total for p in mid_file)
    assert max(p.speed_bps for p in seen) > 0
    assert all(p.files_total == 3 and p.bytes_total == total for p in seen)
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen)
    assert [p.files_done for p in seen] == sorted(p.files_done for p in seen)
    last = seen[-1].as_dict()
    assert (last["bytes_done"], last["files_done"], last["current_file"]) == (total, 3, None)
    assert {"bytes_total", "files_total", "speed_bps", "started_at"} <= set(last)

    received = len(hub.requests)
    assert is_cached(REPO, "main", cache) == snapshot
    assert is_cached(REPO, snapshot.name, cache) == snapshot  # révision donnée par son commit
    assert len(hub.requests) == received, "is_cached ne doit pas toucher au réseau"

    again, _ = download(hub.url, cache)  # déjà complet : aucun octet retransféré
    assert again == snapshot
    assert not [r for r in hub.requests[received:] if r.method == "GET" and "/resolve/" in r.path]


def test_interrupted_download_resumes_with_a_range_request(hub: FakeHub, cache: Path) -> None:
    """La coupure persiste pendant les 5 reprises internes de `http_get` (≈ 5 s), d'où l'erreur `network`."""
    hub.cut_file, hub.cut_at = "model.safetensors", 1_000_000

    error, _ = download(hub.url, cache)

    assert isinstance(error, DownloadError) and error.code == "network", error
    assert "injoignable" in error.message and "HF_ENDPOINT" in error.message
    partial = incomplete_blob(cache, hub, "model.safetensors")
    kept = partial.stat().st_size
    assert 0 < kept <= 1_000_000
    assert is_cached(REPO, "main", cache) is None

    hub.cut_at = None
    hub.requests.clear()
    snapshot, seen = download(hub.url, cache)

    assert isinstance(snapshot, Path), snapshot
    assert hub.file_requests("config.json") == [], "un fichier déjà complet a été redemandé"
    assert [r.range for r in hub.file_requests("model.safetensors")] == [f"bytes={kept}-"]
    assert [r.range for r in hub.file_requests("tokenizer.json")] == [None]
    assert not partial.exists()
    assert_identical(snapshot, hub)
    resumed = [p.bytes_done for p in seen if p.current_file == "model.safetensors"]
    assert min(resumed) >= 200_000  # le fichier terminé compte d'emblée
    assert max(resumed) >= 200_000 + kept
    assert is_cached(REPO, "main", cache) == snapshot


def test_cancel_keeps_the_partial_file_for_the_next_call(hub: FakeHub, cache: Path) -> None:
    hub.throttle_bps = 2_000_000
    cancel = threading.Event()

    def stop_mid_file(progress: DownloadProgress) -> None:
        if progress.current_file == "model.safetensors" and progress.bytes_done > 600_000:
            cancel.set()

    error, _ = download(hub.url, cache, cancel=cancel, on_progress=stop_mid_file)

    assert isinstance(error, DownloadError) and error.code == "cancelled", error
    kept = incomplete_blob(cache, hub, "model.safetensors").stat().st_size
    assert 0 < kept < 2_000_000
    cancel.clear()
    hub.throttle_bps = None
    hub.requests.clear()
    snapshot, _ = download(hub.url, cache, cancel=cancel)
    assert isinstance(snapshot, Path), snapshot
    assert [r.range for r in hub.file_requests("model.safetensors")] == [f"bytes={kept}-"]
    assert_identical(snapshot, hub)


def test_gated_repo_with_and_without_token(
    hub: FakeHub, cache: Path, all_logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    error, _ = download(hub.url, cache, "demo/restreint", token=TOKEN)
    assert isinstance(error, DownloadError) and error.code == "gated", error
    assert "acceptez ses conditions" in error.message and f"{hub.url}/demo/restreint" in error.message
    assert hub.requests and all(r.authenticated for r in hub.requests)

    monkeypatch.setenv("HF_TOKEN", "hf_JetonImpliciteQuiNeDoitPasPartir0123")  # ignoré : seul `token` compte
    sent = len(hub.requests)
    error, _ = download(hub.url, cache, "demo/restreint")
    assert isinstance(error, DownloadError) and error.code == "token_missing", error
    assert "configurez un jeton" in error.message
    assert not any(r.authenticated for r in hub.requests[sent:])
    assert TOKEN not in all_logs.text


def test_token_never_appears_in_errors_or_logs(hub: FakeHub, cache: Path, all_logs: pytest.LogCaptureFixture) -> None:
    snapshot, _ = download(hub.url, cache, token=TOKEN)
    assert isinstance(snapshot, Path), snapshot
    assert all(r.authenticated for r in hub.requests)
    errors = [
        download(hub.url, cache, "demo/restreint", token=TOKEN)[0],
        download(hub.url, cache, "demo/inconnu", token=TOKEN)[0],
        download(closed_port_url(), cache, token=TOKEN, revision="autre")[0],
    ]
    assert [e.code for e in errors if isinstance(e, DownloadError)] == ["gated", "repo_not_found", "network"]
    for error in errors:
        assert isinstance(error, DownloadError)
        assert TOKEN not in error.message and TOKEN not in str(error) and TOKEN not in repr(error.__cause__)
    assert all_logs.records, "aucun journal capturé"
    assert TOKEN not in all_logs.text


def test_unknown_repo_and_revision(hub: FakeHub, cache: Path) -> None:
    error, _ = download(hub.url, cache, "demo/inconnu")
    assert isinstance(error, DownloadError) and error.code == "repo_not_found", error
    assert "« demo/inconnu » introuvable" in error.message
    error, _ = download(hub.url, cache, revision="v9")
    assert isinstance(error, DownloadError) and error.code == "revision_not_found", error
    assert "« v9 »" in error.message


def test_unreachable_hub_is_a_network_error(cache: Path) -> None:
    endpoint = closed_port_url()
    error, seen = download(endpoint, cache)
    assert isinstance(error, DownloadError) and error.code == "network", error
    assert endpoint in error.message and "proxy" in error.message and "HF_ENDPOINT" in error.message
    assert seen == []


def test_disk_full_is_detected_before_any_byte(hub: FakeHub, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads.shutil, "disk_usage", lambda path: SimpleNamespace(total=10**9, used=0, free=1_000))
    error, _ = download(hub.url, cache)
    assert isinstance(error, DownloadError) and error.code == "disk_full", error
    assert "Espace disque insuffisant" in error.message and " Go à télécharger" in error.message
    assert not [r for r in hub.requests if "/resolve/" in r.path], "un fichier a été demandé malgré le disque plein"
    assert is_cached(REPO, "main", cache) is None
