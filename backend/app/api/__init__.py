"""Couche HTTP : routes minces, protocole, gestion des erreurs."""
