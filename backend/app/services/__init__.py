"""Services métier, indépendants de FastAPI."""
