"""creator-chat core library: domain, use cases, ports and adapters (a Lambda layer)."""

__version__ = "0.1.0"
