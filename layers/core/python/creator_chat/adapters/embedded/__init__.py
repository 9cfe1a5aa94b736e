"""The embedded family: what ``creator-chat serve`` runs on by default, with no AWS at all.

One SQLite database in the data dir holds every table and job queue (``database.py``), uploads
are files in the data dir, and retrieval and generation run in process (a local embedding model
shipped in a PyPI package, an exact hybrid index loaded from the database, an extractive
generator, an in-process cache).
"""
