"""One router per resource; :func:`detector.api.app.create_app` includes them all."""
