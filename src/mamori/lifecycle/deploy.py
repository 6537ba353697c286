"""Placeholder: deployment (CERT-09), filled in by its owner."""

from __future__ import annotations


def queue_deployments(managed, certificate, *, order=None, now=None) -> list:
    """Record one pending Deployment per enabled target of ``managed`` for ``certificate``."""
    return []
