"""The analyst service: gateway verdict lookup, review queue, evidence pages (FastAPI).

Public API: :func:`detector.api.app.create_app` (``create_app(settings)``) and
:class:`detector.api.service.Service`. Run it with ``detector serve``.
"""
