"""Faux Hub Hugging Face en pur Python : juste ce dont huggingface_hub 2.4.0 a besoin pour télécharger un dépôt.

Routes : `GET /api/models/{dépôt}[/revision/{rév}]` (`model_info`, `repo_info`), `GET /api/models/{dépôt}/tree/{rév}`
(`list_repo_tree`), `HEAD`/`GET /{dépôt}/resolve/{rév}/{fichier}` (`hf_hub_download`, avec `Range`). Aucun en-tête
Xet n'est envoyé : huggingface_hub reste en HTTP simple. Les requêtes reçues sont notées dans `requests`.
"""

import hashlib
import json
import random
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

SEND_BLOCK = 16 * 1024
API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/(?P<kind>revision|tree)/(?P<rev>[^/]+))?(?:/.*)?$")
RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, bytes]
    lfs: set[str] = field(default_factory=set)
    gated: bool = False

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.repo_id.encode()).hexdigest()

    def etag(self, name: str) -> str:
        """SHA-256 du contenu pour un fichier LFS, SHA-1 git du blob sinon (comme le Hub)."""
        data = self.files[name]
        if name in self.lfs:
            return hashlib.sha256(data).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def describe(self, name: str) -> dict:
        data, lfs = self.files[name], name in self.lfs
        pointer = hashlib.sha1(name.encode()).hexdigest()  # oid git du pointeur LFS : sans importance ici
        entry = {"type": "file", "path": name, "size": len(data), "oid": pointer if lfs else self.etag(name)}
        if lfs:
            entry["lfs"] = {"oid": self.etag(name), "size": len(data), "pointerSize": 134}
        return entry


@dataclass
class RecordedRequest:
    method: str
    path: str
    range: str | None
    authenticated: bool


def demo_repos(seed: int = 20240601) -> dict[str, FakeRepo]:
    """`demo/petit` : trois fichiers aléatoires (200 Ko, 2 Mo en LFS, 400 Ko) ; `demo/restreint` : accès restreint."""
    rng = random.Random(seed)
    petit = FakeRepo(
        "demo/petit",
        {
            "config.json": rng.randbytes(200_000),
            "model.safetensors": rng.randbytes(2_000_000),
            "tokenizer.json": rng.randbytes(400_000),
        },
        lfs={"model.safetensors"},
    )
    restreint = FakeRepo("demo/restreint", {"config.json": rng.randbytes(1_000)}, gated=True)
    return {repo.repo_id: repo for repo in (petit, restreint)}


def closed_port_url() -> str:
    """Adresse d'un port local fermé : toute connexion y est refusée."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeHub:
    """Serveur sur 127.0.0.1 (port aléatoire), démarré dans un thread ; s'utilise comme gestionnaire de contexte.

    Réglages modifiables à chaud : `throttle_bps` (débit maximal d'un corps de réponse) et `cut_at` : la connexion
    est coupée en plein corps dès que l'octet `cut_at` du fichier (`cut_file`, ou de tout fichier si `None`) est
    atteint, pour toute requête tant que l'interrupteur reste armé (les reprises automatiques échouent aussi).
    """

    def __init__(self, repos: dict[str, FakeRepo] | None = None):
        self.repos = repos if repos is not None else demo_repos()
        self.throttle_bps: float | None = None
        self.cut_at: int | None = None
        self.cut_file: str | None = None
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"hub": self}))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="faux-hub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeHub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def file_requests(self, filename: str, method: str = "GET") -> list[RecordedRequest]:
        """Requêtes `resolve` reçues pour un fichier."""
        suffix = f"/{filename}"
        return [
            r for r in list(self.requests) if r.method == method and "/resolve/" in r.path and r.path.endswith(suffix)
        ]


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # silencieux
        return None

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        authenticated = self.headers.get("Authorization") is not None
        self.hub.record(RecordedRequest(self.command, path, self.headers.get("Range"), authenticated))
        if match := API.match(path):
            self._api(match, body)
        elif match := RESOLVE.match(path):
            self._resolve(match, body, authenticated)
        else:
            self._error(404, "RepoNotFound", "Repository not found", body)

    def _repo(self, match: re.Match, body: bool) -> FakeRepo | None:
        """Le dépôt demandé, ou `None` après avoir répondu 404 (dépôt ou révision inconnus)."""
        repo = self.hub.repos.get(match["repo"])
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found", body)
            return None
        if match["rev"] not in (None, "main", repo.sha):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {match['rev']}", body)
            return None
        return repo

    def _api(self, match: re.Match, body: bool) -> None:
        repo = self._repo(match, body)
        if repo is None:
            return
        if match["kind"] == "tree":
            payload: object = [repo.describe(name) for name in repo.files]
        else:
            siblings = []
            for name in repo.files:
                entry = repo.describe(name)
                lfs = entry.get("lfs")
                lfs_info = {"sha256": lfs["oid"], "size": lfs["size"], "pointerSize": 134} if lfs else None
                siblings.append({"rfilename": name, "size": entry["size"], "blobId": entry["oid"], "lfs": lfs_info})
            payload = {"id": repo.repo_id, "sha": repo.sha, "private": False, "gated": repo.gated and "manual"}
            payload["siblings"] = siblings
        data = json.dumps(payload).encode()
        self._send_head(200, {"Content-Type": "application/json", "Content-Length": str(len(data))})
        if body:
            self.wfile.write(data)

    def _resolve(self, match: re.Match, body: bool, authenticated: bool) -> None:
        repo = self._repo(match, body)
        if repo is None:
            return
        if repo.gated:  # 401 sans jeton, 403 avec un jeton sans accès, comme le Hub
            message = f"Access to model {repo.repo_id} is restricted. You must have access to it and be authenticated."
            self._error(403 if authenticated else 401, "GatedRepo", message, body)
            return
        name = match["path"]
        if name not in repo.files:
            self._error(404, "EntryNotFound", f"{name} does not exist", body, {"X-Repo-Commit": repo.sha})
            return
        data, etag = repo.files[name], repo.etag(name)
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        headers["Content-Type"] = "application/octet-stream"
        if name in repo.lfs:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
        start, status = 0, 200
        if body and (requested := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")):
            start, status = int(requested[1]), 206
            if start >= len(data):
                self._send_head(416, {"Content-Range": f"bytes */{len(data)}", "Content-Length": "0"})
                return
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        headers["Content-Length"] = str(len(data) - start)
        self._send_head(status, headers)
        if body:
            self._send_body(name, data, start)

    def _send_body(self, name: str, data: bytes, start: int) -> None:
        hub, stop = self.hub, len(data)
        if hub.cut_at is not None and hub.cut_file in (None, name) and hub.cut_at < stop:
            stop = max(hub.cut_at, start)
            self.close_connection = True  # corps incomplet puis fermeture : une coupure réseau
        began, sent = time.monotonic(), 0
        try:
            for offset in range(start, stop, SEND_BLOCK):
                block = data[offset : min(offset + SEND_BLOCK, stop)]
                self.wfile.write(block)
                sent += len(block)
                if hub.throttle_bps:
                    time.sleep(max(0.0, began + sent / hub.throttle_bps - time.monotonic()))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # le client a abandonné (annulation)
            self.close_connection = True

    def _error(self, status: int, code: str, message: str, body: bool, extra: dict | None = None) -> None:
        data = json.dumps({"error": message}).encode()
        headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
        self._send_head(status, {**headers, **(extra or {}), "Content-Length": str(len(data))})
        if body:
            self.wfile.write(data)

    def _send_head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
