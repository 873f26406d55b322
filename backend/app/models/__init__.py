"""Enveloppes de modèles (une par moteur) et registre."""
