"""Passerelle d'inférence unifiée : application FastAPI."""

__version__ = "0.1.0"
