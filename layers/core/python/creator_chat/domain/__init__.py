"""Domain model: plain dataclasses, no I/O."""
