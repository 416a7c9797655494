"""`relance serve` is a real HTTP server (gunicorn) that also serves the static files."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_pages_and_static_files(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "RELANCE_VAR_DIR": str(tmp_path),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [sys.executable, "-m", "relance.cli", "init", "--entity", "acme"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "relance.cli", "serve", "--port", str(port), "--no-access-log"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError(
                        "server did not answer: "
                        + (server.stdout.read().decode() if server.poll() is not None else "timeout")
                    ) from None
                time.sleep(0.3)
        assert "Sign in to Relance" in body
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "gunicorn" in response.headers.get("Server", "")  # not runserver
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/web/relance.css", timeout=5) as css:
            assert css.status == 200 and b"--brand" in css.read()
    finally:
        server.terminate()
        server.wait(timeout=20)
