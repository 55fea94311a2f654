"""The standalone cluster of ``tools/spark_standalone.py`` finds its master when another process
took one of the ports it picked: Spark binds the next port, the cluster reads the bound ports
back from the master's log, and a status page that is not the master's JSON is an error naming
the URL, never a crash of the start-up loop."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest
from spark_standalone import StandaloneCluster

from .conftest import _spark_missing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


class _HtmlPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"<html><body>Spark worker</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def test_a_status_page_that_is_not_the_masters_json_names_the_url(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _HtmlPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cluster = StandaloneCluster(workdir=tmp_path)
        cluster.webui_port = server.server_address[1]
        with pytest.raises(ValueError, match=rf"127\.0\.0\.1:{cluster.webui_port}/json/"):
            cluster.status()
    finally:
        server.shutdown()
        server.server_close()


def test_the_cluster_follows_the_master_to_the_port_spark_bound(tmp_path):
    missing = _spark_missing()
    if missing:
        pytest.skip(missing)
    # an HTML page on the web UI port the cluster picked, and a listener on its RPC port: the
    # master must move both on, and the cluster must find the master where it went
    page = http.server.HTTPServer(("127.0.0.1", 0), _HtmlPage)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    rpc = socket.socket()
    rpc.bind(("127.0.0.1", 0))
    rpc.listen()
    try:
        cluster = StandaloneCluster(workers=1, workdir=tmp_path)
        cluster.port, cluster.webui_port = rpc.getsockname()[1], page.server_address[1]
        taken = (cluster.port, cluster.webui_port)
        with cluster:
            assert cluster.port != taken[0] and cluster.webui_port != taken[1]
            assert cluster.master_url == f"spark://127.0.0.1:{cluster.port}"
            assert [w["state"] for w in cluster.status()["workers"]] == ["ALIVE"]
    finally:
        page.shutdown()
        page.server_close()
        rpc.close()
