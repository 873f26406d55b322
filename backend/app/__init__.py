"""Passerelle d'inférence unifiée : application FastAPI."""
