"""The local runtime: the real Lambda handlers behind a local API gateway, on an emulator."""
