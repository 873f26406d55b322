"""Langues de Canary (canary-1b-v2) et règles de traduction."""

from app.core.errors import InvalidRequest

CANARY_LANGUAGES = "bg cs da de el en es et fi fr hr hu it lt lv mt nl pl pt ro ru sk sl sv uk".split()


def check_language(code: str | None, param: str) -> str:
    language = (code or "").strip().lower()
    if language not in CANARY_LANGUAGES:
        raise InvalidRequest(
            f"Langue non prise en charge : « {code} ». Codes ISO 639-1 acceptés : {', '.join(CANARY_LANGUAGES)}.",
            param=param,
        )
    return language


def check_translation(source: str, target: str) -> None:
    if source == target:
        raise InvalidRequest(
            "La langue cible doit différer de la langue source pour une traduction.", param="target_language"
        )
    if "en" not in (source, target):
        raise InvalidRequest(
            f"Canary traduit vers l'anglais ou depuis l'anglais seulement ({source} -> {target} impossible).",
            param="target_language",
        )
