"""Téléchargement reprenable d'un dépôt du Hub dans le cache, avec progression en octets.

huggingface_hub 2.4.0 efface le fichier temporaire d'un téléchargement interrompu. Ici les octets vont dans
`blobs/<etag>.incomplete`, que `http_get` complète au lancement suivant (`Range: bytes=N-`, HTTP simple : Xet ne
reprend pas un fichier partiel). `hf_hub_download` crée ensuite le lien du snapshot et `snapshot_download` écrit
`refs/` et `trees/` (liste des fichiers grâce à laquelle `is_cached` juge, hors ligne, le snapshot complet).
"""

import contextlib
import dataclasses
import errno
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import huggingface_hub as hf
from huggingface_hub import errors as hf_errors
from huggingface_hub.file_download import http_get, repo_folder_name
from huggingface_hub.utils import WeakFileLock, build_hf_headers
from huggingface_hub.utils import tqdm as hf_tqdm

# `http_get` lit et écrit par blocs de DOWNLOAD_CHUNK_SIZE (10 Mio par défaut) : un bloc interrompu est
# perdu et la progression n'avance que par bonds. 1 Mio donne une reprise et une progression fines pour un
# coût négligeable (un millier de tours de boucle par Go).
hf.constants.DOWNLOAD_CHUNK_SIZE = 1 << 20

logger = logging.getLogger(__name__)

SPEED_WINDOW_S = 5.0
NOTIFY_EVERY_S = 0.25
RESUME = "le téléchargement reprendra là où il s'est arrêté"
# ConnectionError couvre OfflineModeIsEnabled ; FileMetadataError : l'adresse ne répond pas comme un Hub.
NETWORK_ERRORS = (httpx2.TransportError, TimeoutError, ConnectionError, hf_errors.FileMetadataError)
NETWORK_ERRORS += (hf_errors.LocalEntryNotFoundError,)  # Hub injoignable et fichier absent du cache
MESSAGES = {
    "token_missing": "Le modèle « {repo_id} » est à accès restreint : configurez un jeton Hugging Face d'un compte "
    "ayant accepté ses conditions sur sa page {hub}/{repo_id}, puis relancez.",
    "gated": "Accès refusé au modèle « {repo_id} » : acceptez ses conditions sur sa page {hub}/{repo_id} avec le "
    "compte du jeton configuré (ou configurez un jeton de ce compte, droit de lecture), puis relancez.",
    "repo_not_found": "Dépôt « {repo_id} » introuvable sur {hub} : vérifiez son nom (organisation/modèle) ; s'il "
    "est privé, configurez un jeton Hugging Face qui y a accès.",
    "revision_not_found": "Révision « {revision} » introuvable pour le dépôt « {repo_id} » : vérifiez la branche, "
    "l'étiquette ou le commit demandé.",
    "disk_full": "Espace disque insuffisant dans {cache_dir} ({detail}) : libérez de la place ou changez "
    "MODEL_CACHE_DIR, puis relancez ; " + RESUME + ".",
    "network": "Le Hub Hugging Face ({hub}) est injoignable : vérifiez la connexion réseau, le proxy (HTTPS_PROXY) "
    "ou la variable HF_ENDPOINT, puis relancez ; " + RESUME + ". Détail : {detail}",
    "cancelled": "Téléchargement de « {repo_id} » annulé ; " + RESUME + " au prochain lancement.",
    "unknown": "Échec du téléchargement de « {repo_id} » : {detail}",
}


@dataclasses.dataclass
class DownloadProgress:
    bytes_done: int = 0
    bytes_total: int = 0
    files_done: int = 0
    files_total: int = 0
    speed_bps: float = 0.0  # moyenne des SPEED_WINDOW_S dernières secondes, octets reçus pendant cet appel
    started_at: float = dataclasses.field(default_factory=time.time)
    current_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class DownloadError(Exception):
    """Échec lisible par une personne, sans jamais le jeton ; `code` : une clé de MESSAGES."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class _Tracker:
    """Progression, transmise au plus toutes les NOTIFY_EVERY_S s ; « barre tqdm » de `http_get` (`bar`)."""

    def __init__(self, repo_id: str, on_progress: Callable[[DownloadProgress], None], cancel: threading.Event | None):
        self.repo_id = repo_id
        self.progress = DownloadProgress()
        self.on_progress = on_progress
        self.cancel = cancel
        self._finished_bytes = self._received = self._last_notify = 0
        self._samples: deque[tuple[float, int]] = deque([(time.monotonic(), 0)])

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DownloadError("cancelled", MESSAGES["cancelled"].format(repo_id=self.repo_id))

    def start_file(self, name: str, offset: int = 0) -> None:
        self.check_cancel()
        self.progress.current_file = name
        self.progress.bytes_done = self._finished_bytes + offset
        self.notify(force=True)

    def finish_file(self, size: int) -> None:
        self._finished_bytes += size
        self.progress.bytes_done = self._finished_bytes
        self.progress.files_done += 1
        self.progress.current_file = None
        self.notify(force=True)

    def notify(self, force: bool = False) -> None:
        now = time.monotonic()
        self._samples.append((now, self._received))
        while len(self._samples) > 2 and self._samples[1][0] <= now - SPEED_WINDOW_S:
            self._samples.popleft()
        start, received = self._samples[0]
        self.progress.speed_bps = (self._received - received) / (now - start) if now > start else 0.0
        if force or now - self._last_notify >= NOTIFY_EVERY_S:
            self._last_notify = now
            self.on_progress(dataclasses.replace(self.progress))

    def bar(self, initial: int = 0, **_: Any) -> contextlib.nullcontext["_Tracker"]:
        """Fabrique de « barre tqdm » passée à `http_get` ; `initial` : octets déjà sur disque."""
        self.start_file(self.progress.current_file or "", initial)
        return contextlib.nullcontext(self)

    def update(self, n: float | None = 1) -> None:
        self.check_cancel()  # avant l'écriture du bloc : le fichier partiel reste cohérent
        self.progress.bytes_done += int(n or 0)
        self._received += int(n or 0)
        self.notify()


def download_snapshot(
    repo_id: str,
    revision: str,
    cache_dir: Path,
    token: str | None,
    on_progress: Callable[[DownloadProgress], None],
    cancel: threading.Event | None = None,
    endpoint: str | None = None,
) -> Path:
    """Télécharge (ou complète) le snapshot `repo_id@revision` sous `cache_dir` ; bloquant, à lancer dans un thread.

    Sans jeton, aucun n'est envoyé (ni `HF_TOKEN`, ni celui de `hf auth login`) : seul celui de la passerelle compte.
    `endpoint` : URL du Hub ; `None` garde celle de huggingface_hub (`HF_ENDPOINT` ou https://huggingface.co).
    """
    tracker = _Tracker(repo_id, on_progress, cancel)
    try:
        return _download(repo_id, revision, Path(cache_dir).expanduser().resolve(), token or False, tracker, endpoint)
    except Exception as exc:
        error = _translate(exc, repo_id, revision, Path(cache_dir), token, endpoint)
        logger.warning("Téléchargement de %s@%s interrompu (%s) : %s", repo_id, revision, error.code, error.message)
        raise error from (None if error is exc else exc)


def is_cached(repo_id: str, revision: str, cache_dir: Path) -> Path | None:
    """Dossier du snapshot s'il est complet d'après sa liste de fichiers enregistrée (`trees/`) ; sans réseau."""
    try:
        path = hf.snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, local_files_only=True)
        hf.get_cached_repo_tree(repo_id, revision=revision, cache_dir=cache_dir)
    except (OSError, hf_errors.CachedRepoTreeNotFoundError):  # dont LocalEntryNotFoundError, IncompleteSnapshotError
        return None
    return Path(path)


def _download(repo_id: str, revision: str, cache_dir: Path, auth: str | bool, tracker: _Tracker, endpoint: str | None):
    tracker.check_cancel()
    info = hf.HfApi(endpoint=endpoint, token=auth).model_info(repo_id, revision=revision, files_metadata=True)
    files = [(s.rfilename, s.size or 0, s.lfs.sha256 if s.lfs else s.blob_id) for s in info.siblings or []]
    storage = cache_dir / repo_folder_name(repo_id=repo_id, repo_type="model")
    snapshot = storage / "snapshots" / str(info.sha)
    tracker.progress.files_total, tracker.progress.bytes_total = len(files), sum(size for _, size, _ in files)
    missing = 0
    for name, size, etag in files:
        blob = storage / "blobs" / str(etag)
        if not (snapshot / name).exists() and not (etag and blob.exists()):
            incomplete = blob.with_name(f"{blob.name}.incomplete")
            missing += max(size - (incomplete.stat().st_size if etag and incomplete.is_file() else 0), 0)
    probe = next(folder for folder in (cache_dir, *cache_dir.parents) if folder.exists())
    if missing > (free := shutil.disk_usage(probe).free):
        detail = f"{_gb(missing)} à télécharger, {_gb(free)} libres"
        raise DownloadError("disk_full", MESSAGES["disk_full"].format(cache_dir=cache_dir, detail=detail))
    logger.info("Téléchargement de %s@%s : %d fichier(s), %s à recevoir", repo_id, revision, len(files), _gb(missing))
    for name, size, _ in files:
        tracker.start_file(name)
        if not (snapshot / name).exists():
            _fetch_blob(repo_id, name, str(info.sha), storage, auth, endpoint, tracker)
            hf.hf_hub_download(repo_id, name, revision=info.sha, cache_dir=cache_dir, token=auth, endpoint=endpoint)
        tracker.finish_file(size)
    # `refs/<revision>` et `trees/<commit>.json` : tous les fichiers sont là, rien n'est retransféré.
    quiet = partial(hf_tqdm, disable=True)
    path = hf.snapshot_download(
        repo_id, revision=revision, cache_dir=cache_dir, token=auth, endpoint=endpoint, tqdm_class=quiet
    )
    logger.info("Snapshot %s@%s complet : %s", repo_id, revision, path)
    return Path(path)


def _fetch_blob(repo_id, name, commit, storage: Path, auth, endpoint, tracker: _Tracker) -> None:
    """Écrit `blobs/<etag>` en complétant `blobs/<etag>.incomplete` s'il existe (requête `Range: bytes=N-`)."""
    url = hf.hf_hub_url(repo_id, name, revision=commit, endpoint=endpoint)
    meta = hf.get_hf_file_metadata(url, token=auth, endpoint=endpoint)
    if meta.etag is None or meta.commit_hash is None:
        raise hf_errors.FileMetadataError(f"{url} : réponse sans ETag ni X-Repo-Commit, ce n'est pas un Hub")
    blob = storage / "blobs" / meta.etag
    incomplete = blob.with_name(f"{blob.name}.incomplete")
    lock = storage.parent / ".locks" / storage.name / f"{meta.etag}.lock"  # le verrou de hf_hub_download
    lock.parent.mkdir(parents=True, exist_ok=True)
    blob.parent.mkdir(parents=True, exist_ok=True)
    headers = build_hf_headers(token=auth, headers={"Accept-Encoding": "identity"})  # Range : octets bruts
    if urlsplit(meta.location).netloc != urlsplit(url).netloc:
        headers.pop("authorization", None)  # URL signée d'un CDN : le jeton ne la suit pas
    with WeakFileLock(lock):
        if blob.exists():
            return
        resume = incomplete.stat().st_size if incomplete.is_file() else 0
        if meta.size is not None and resume > meta.size:
            incomplete.unlink()
            resume = 0
        if resume:
            logger.info("Reprise de %s à l'octet %d sur %s", name, resume, meta.size)
        tracker.start_file(name, resume)
        with incomplete.open("ab") as handle:
            http_get(meta.location, handle, resume_size=resume, headers=headers, expected_size=meta.size,
                     displayed_filename=name, tqdm_class=tracker.bar)  # fmt: skip
        os.replace(incomplete, blob)


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} Go".replace(".", ",")


def _translate(exc: Exception, repo_id: str, revision: str, cache_dir: Path, token: str | None, endpoint: str | None):
    if isinstance(exc, DownloadError):
        return exc
    status = getattr(getattr(exc, "response", None), "status_code", None) or 0  # HfHubHTTPError
    repo_missing = isinstance(exc, hf_errors.RepositoryNotFoundError)  # GatedRepoError en dérive
    rules = [
        (isinstance(exc, hf_errors.GatedRepoError) or (status in (401, 403) and not repo_missing), "gated"),
        (isinstance(exc, hf_errors.RevisionNotFoundError), "revision_not_found"),
        (repo_missing or (status == 404 and not isinstance(exc, hf_errors.EntryNotFoundError)), "repo_not_found"),
        (isinstance(exc, OSError) and exc.errno == errno.ENOSPC, "disk_full"),
        (isinstance(exc, NETWORK_ERRORS) or status >= 500 or status == 429, "network"),
    ]
    code = next((code for matched, code in rules if matched), "unknown")
    code = "token_missing" if code == "gated" and not token else code
    hub = (endpoint or hf.constants.ENDPOINT).rstrip("/")
    text = (str(exc).strip().splitlines() or [""])[0][:200]
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    message = MESSAGES[code].format(repo_id=repo_id, revision=revision, cache_dir=cache_dir, hub=hub, detail=detail)
    return DownloadError(code, message.replace(token, "***") if token else message)
