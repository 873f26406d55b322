"""Journalisation : sortie standard et fichier tournant dans `LOG_DIR`, identifiant de requête."""

import logging
import logging.handlers
import tempfile
from contextvars import ContextVar
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s : %(message)s"
request_id: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def _file_handler(log_dir: Path) -> logging.Handler:
    log_dir.mkdir(parents=True, exist_ok=True)
    return logging.handlers.RotatingFileHandler(
        log_dir / "passerelle.log", maxBytes=10_000_000, backupCount=5, encoding="utf-8"
    )


def setup_logging(log_dir: Path, level: int = logging.INFO) -> Path:
    """Installe les journaux ; renvoie le dossier réellement utilisé (repli si `log_dir` est en
    lecture seule)."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_passerelle", False):
            root.removeHandler(handler)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    problem = None
    try:
        handlers.append(_file_handler(log_dir))
    except OSError as exc:
        problem = f"{log_dir} inutilisable ({exc})"
        log_dir = Path(tempfile.gettempdir()) / "passerelle-logs"
        handlers.append(_file_handler(log_dir))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RequestIdFilter())
        handler._passerelle = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # une ligne par sonde /health sinon
    if problem:
        logging.getLogger(__name__).warning("LOG_DIR %s : journaux écrits dans %s", problem, log_dir)
    return log_dir
