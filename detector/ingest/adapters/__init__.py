"""Adapters: formats other tools already produce, mapped onto the native request record.

Importing this package registers every adapter with ``detector.ingest.formats``.
"""

from detector.ingest.adapters import litellm, mapped, otel  # noqa: F401,E402
