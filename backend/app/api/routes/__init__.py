"""Routes HTTP."""
