"""Adapters: formats other tools already produce, mapped onto the native request record.

Importing this package registers every adapter with ``detector.ingest.formats``.
"""

from detector.ingest.adapters import litellm, mapped, openai_batch, otel  # noqa: F401,E402
