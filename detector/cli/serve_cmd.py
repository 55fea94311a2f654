"""`detector serve`: the HTTP API and the analyst web pages (uvicorn, one process)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from detector.cli.common import fail, handle_errors, settings_from


def register(app: typer.Typer) -> None:
    @app.command("serve")
    @handle_errors
    def serve(
        ctx: typer.Context,
        host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
        dev: Annotated[bool, typer.Option(
            "--dev", help="Dev mode: accept the home's dev key (same as DETECTOR_DEV_MODE=1).",
        )] = False,
        access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
    ) -> None:
        """Serve the verdict API, the review queue and the account pages until interrupted."""
        import uvicorn

        from detector.api.app import create_app
        from detector.api.auth import dev_key
        from detector.api.security import uvicorn_options
        from detector.api.service import Service

        settings = settings_from(ctx)
        if dev:
            settings = settings.replace(dev_mode=True)
        service = Service(settings)
        if service.keys.count() == 0:
            fail(f"no API key in {settings.cases_db}: create one with "
                 "`detector keys create --role admin`, or start in dev mode "
                 "(--dev or DETECTOR_DEV_MODE=1) to use the home's dev key")
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        url = f"http://{shown}:{port}"
        docs = f", API docs {url}/docs" if settings.api_docs else ""
        sys.stderr.write(f"distill-guard serving {settings.home} at {url}/ "
                         f"(queue {url}/queue{docs})\n")
        if settings.dev_mode:
            sys.stderr.write(f"DEV MODE: dev key (admin) = {dev_key(settings)}\n")
        uvicorn.run(create_app(settings, service), host=host, port=port, log_level="warning",
                    access_log=access_log, server_header=False, **uvicorn_options(settings))
