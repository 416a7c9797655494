"""CPU of the portal overview's read (figures + oldest overdue invoices) for one customer with N
open invoices, in process (no HTTP), then a cProfile of ten reads.

    DB=postgres://relance:relance@127.0.0.1:5432/relance_bench .venv/bin/python benchmarks/profile_portal_overview.py
    ROOT=/path/to/another/checkout .venv/bin/python benchmarks/profile_portal_overview.py 2000

``ROOT`` compares another checkout (before/after a change) in the same virtualenv; ``DB`` is a
disposable database (a temporary SQLite file by default). The ledger is ``bench_portal.py``'s.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time

ROOT = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def main() -> None:
    invoices = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    tmp = tempfile.mkdtemp()
    os.environ.update(
        DATABASE_URL=os.environ.get("DB", f"sqlite:///{tmp}/bench.sqlite3"),
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="bench-" + "x" * 60,
        SECURE_SSL_REDIRECT="false",
        RELANCE_CACHE_LOCATION=f"{tmp}/cache",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import bench_portal

    from relance.ledger.models import Customer
    from relance.portal.links import link_create
    from relance.portal.selectors import portal_overdue, portal_overview, portal_owed, portal_today

    _, customer_id = bench_portal.build_ledger(invoices)
    customer = Customer.objects.select_related("entity").get(pk=customer_id)
    link = link_create(customer=customer, days=1)
    today = portal_today(entity=customer.entity)

    def read() -> None:
        summary = portal_owed(link=link, as_of=today)
        portal_overview(link=link, as_of=today, summary=summary)
        portal_overdue(summary=summary)

    for _ in range(3):
        read()
    start = time.process_time()
    for _ in range(20):
        read()
    print(
        f"CPU per overview read: {(time.process_time() - start) / 20 * 1000:.1f} ms ({invoices:,} open invoices)"
    )
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(10):
        read()
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
