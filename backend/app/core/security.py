"""Vérification des clés d'API (comparaison en temps constant)."""

import hmac

from app.core.errors import AuthenticationFailed


def check_api_key(token: str | None, keys: list[str]) -> None:
    """Lève `AuthenticationFailed` si `keys` est non vide et que `token` n'en fait pas partie."""
    if not keys:
        return
    if not token:
        raise AuthenticationFailed("Clé d'API manquante : ajoutez l'en-tête « Authorization: Bearer <clé> ».")
    candidate = token.encode()
    matched = False
    for key in keys:  # toutes les clés sont comparées : le temps ne révèle rien
        matched |= hmac.compare_digest(candidate, key.encode())
    if not matched:
        raise AuthenticationFailed("Clé d'API invalide.")
