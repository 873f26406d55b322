"""Socle : réglages, journalisation, erreurs, sécurité (n'importe rien des couches supérieures)."""
