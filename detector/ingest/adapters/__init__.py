"""Adapters: formats other tools already produce, mapped onto the native request record.

Importing this package registers every adapter with ``detector.ingest.formats``.
"""

from detector.ingest.adapters import (  # noqa: F401,E402
    bedrock,
    langfuse,
    litellm,
    mapped,
    openai_batch,
    otel,
)
