"""``relance serve``: the production-style HTTP server (gunicorn), not Django's runserver."""

from __future__ import annotations

import multiprocessing
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def run_gunicorn(*, host: str, port: int, workers: int, threads: int, access_log: bool = True) -> None:
    from gunicorn.app.base import BaseApplication

    from config.wsgi import application

    class RelanceServer(BaseApplication):
        def load_config(self) -> None:
            cfg: dict[str, Any] = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "timeout": 120,
                "graceful_timeout": 20,
                "accesslog": "-" if access_log else None,
                "forwarded_allow_ips": "127.0.0.1",
            }
            for key, value in cfg.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            return application

    RelanceServer().run()


class Command(BaseCommand):
    help = "Serve Relance over HTTP with gunicorn (static files included, via WhiteNoise)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="Port (default 8000)")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Worker processes (default: 2 × cores, at most 4; 1 on SQLite)",
        )
        parser.add_argument("--threads", type=int, default=4, help="Threads per worker (default 4)")
        parser.add_argument("--no-access-log", action="store_true", help="Do not log each request")

    def handle(self, *args, **options) -> None:
        workers = options["workers"]
        if workers is None:
            sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
            workers = 1 if sqlite else min(4, 2 * multiprocessing.cpu_count())
        from relance.common.links import public_url_follow_server

        public = public_url_follow_server(host=options["host"], port=options["port"])
        bound = f"http://{options['host']}:{options['port']}"
        note = "" if public == bound else f" (links in messages: {public}/)"
        self.stdout.write(f"Relance on {bound}/{note}  (Ctrl-C to stop)")
        self.stdout.flush()
        run_gunicorn(
            host=options["host"],
            port=options["port"],
            workers=workers,
            threads=options["threads"],
            access_log=not options["no_access_log"],
        )
