"""Journalisation : sortie standard et fichier tournant dans `LOG_DIR`."""

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s : %(message)s"


def setup_logging(log_dir: Path, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_passerelle", False):
            root.removeHandler(handler)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_dir / "passerelle.log",
                maxBytes=10_000_000,
                backupCount=5,
                encoding="utf-8",
            )
        )
    except OSError as exc:
        logging.getLogger(__name__).warning("Journal fichier indisponible dans %s : %s", log_dir, exc)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # une ligne par sonde /health sinon
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._passerelle = True  # type: ignore[attr-defined]
        root.addHandler(handler)
