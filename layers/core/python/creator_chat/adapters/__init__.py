"""Adapters: one per real service, plus the embedded local defaults."""
