"""HTTP edge: the routes of the chat and ingest functions (``routing.py`` runs them)."""
