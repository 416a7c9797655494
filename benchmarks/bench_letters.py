"""Benchmark PDF letters (relance.comms.pdf): render N one-page dunning letters with WeasyPrint.

Approaches, in the same run:

* simple: a fresh ``HTML()`` per letter with the full stylesheet inline and a fresh font
  configuration (run on ``--simple`` letters, default 200);
* reuse: ``letter_pdf`` as shipped — stylesheets parsed and fonts configured once per process;
* reuse in ``--workers`` processes (default 2), as letter workers would run.

Wall-clock rates depend on what else the machine is doing, so the table also gives the CPU time per
letter of the single-process runs and the load average.

    .venv/bin/python benchmarks/bench_letters.py --letters 1000 --workers 2
    .venv/bin/python benchmarks/bench_letters.py --letters 200 --paper letter --simple 50

No database is used: the entity is an unsaved model instance.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclass
class Result:
    approach: str
    letters: int
    wall: float
    cpu: float | None
    size: int

    @property
    def rate(self) -> float:
        return self.letters / self.wall if self.wall else 0.0


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def make_entity():
    from relance.ledger.models import Entity

    return Entity(
        name="bench",
        legal_name="Bench Industries SAS",
        address="12 rue de la Paix\n75002 Paris",
        country="FR",
        iban="FR7630006000011234567890189",
        bic="AGRIFRPP",
        vat_id="FR12345678901",
    )


def make_letter(number: int):
    """A final notice with 1–5 invoice rows, its own amount, reference and recipient."""
    from relance.comms.types import RenderedMessage
    from relance.core.payment_refs import rf_reference

    rows = []
    total = Decimal(0)
    for line in range(1 + number % 5):
        amount = Decimal(100 + (number * 37 + line * 101) % 9000) + Decimal("0.50")
        total += amount
        rows.append(
            f"<tr><td>INV-{number:05}-{line}</td><td>2024-0{1 + line}-15</td><td class='num'>€{amount:,}</td></tr>"
        )
    html = (
        f"<p>Dear Customer {number},</p><p>Despite our reminders, the invoices below are still unpaid.</p>"
        f"<table><tr><th>Invoice</th><th>Due</th><th class='num'>Amount</th></tr>{''.join(rows)}</table>"
        "<p>Please pay the total within 8 days, or call us if something is wrong with these invoices.</p>"
        "<p>Yours sincerely,<br>Credit management</p>"
    )
    address = f"Customer {number} SARL\nComptabilité fournisseurs\n{number % 200 + 1} avenue Foch\n69006 Lyon"
    rendered = RenderedMessage(
        template_key="final",
        channel="letter",
        language="en",
        subject="Final notice before legal action",
        text="",
        html=html,
        rf_reference=rf_reference(f"bench:{number}"),
        amount_due=total,
        currency="EUR",
    )
    return rendered, address


def render_reuse(numbers: range, paper: str) -> tuple[int, int]:
    from relance.comms.pdf import letter_pdf

    entity = make_entity()
    size = 0
    for number in numbers:
        rendered, address = make_letter(number)
        size += len(letter_pdf(rendered, entity=entity, recipient_address=address, paper=paper))
    return len(numbers), size


def render_simple(numbers: range, paper: str) -> tuple[int, int]:
    """The simple approach: everything from scratch for every letter."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    from relance.comms.pdf import TEMPLATE_DIR, letter_html

    entity = make_entity()
    size = 0
    for number in numbers:
        rendered, address = make_letter(number)
        css = "".join(
            (TEMPLATE_DIR / name).read_text(encoding="utf-8")
            for name in ("pdf_letter.css", f"pdf_paper_{paper.lower()}.css")
        )
        document = letter_html(rendered, entity=entity, recipient_address=address, paper=paper)
        document = document.replace("<style>", f"<style>{css}", 1)
        size += len(HTML(string=document).write_pdf(font_config=FontConfiguration()))
    return len(numbers), size


def _worker_init() -> None:
    setup_django()
    render_reuse(range(0, 1), "A4")  # warm up: parse stylesheets, load fonts


def _worker_batch(job: tuple[int, int, str]) -> tuple[int, int]:
    start, stop, paper = job
    return render_reuse(range(start, stop), paper)


def timed(approach: str, function, numbers: range, paper: str) -> Result:
    wall, cpu = time.perf_counter(), time.process_time()
    count, size = function(numbers, paper)
    return Result(approach, count, time.perf_counter() - wall, time.process_time() - cpu, size)


def run_workers(letters: int, workers: int, paper: str) -> Result:
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    batch = 25
    jobs = [(start, min(start + batch, letters), paper) for start in range(0, letters, batch)]
    with context.Pool(workers, initializer=_worker_init) as pool:
        pool.map(_worker_batch, [(0, 1, paper)] * workers)  # every worker warmed before timing
        wall = time.perf_counter()
        results = pool.map(_worker_batch, jobs, chunksize=1)
        elapsed = time.perf_counter() - wall
    return Result(
        f"reuse, {workers} processes",
        sum(count for count, _ in results),
        elapsed,
        None,
        sum(s for _, s in results),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--letters", type=int, default=1000, help="letters to render per approach (default 1000)"
    )
    parser.add_argument(
        "--simple", type=int, default=200, help="letters for the simple approach (default 200; 0 skips it)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="processes for the parallel run (default 2; 0 skips)"
    )
    parser.add_argument("--paper", choices=("A4", "letter"), default="A4", help="paper size (default A4)")
    args = parser.parse_args()

    setup_django()
    render_reuse(range(0, 2), args.paper)  # warm up the single-process runs too
    load_before = os.getloadavg()[0]
    results = []
    if args.simple:
        results.append(
            timed(
                "simple (fresh HTML, inline CSS, fresh fonts)", render_simple, range(args.simple), args.paper
            )
        )
    results.append(
        timed("reuse stylesheets + fonts (letter_pdf)", render_reuse, range(args.letters), args.paper)
    )
    if args.workers:
        results.append(run_workers(args.letters, args.workers, args.paper))
    load_after = os.getloadavg()[0]

    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{args.letters} PDF letters ({args.paper}), load average {load_before:.1f} → {load_after:.1f}"
    )
    for column in ("approach", "letters", "seconds", "letters/s", "CPU ms/letter", "KB/letter"):
        table.add_column(column, justify="left" if column == "approach" else "right")
    for result in results:
        table.add_row(
            result.approach,
            str(result.letters),
            f"{result.wall:.1f}",
            f"{result.rate:.1f}",
            f"{1000 * result.cpu / result.letters:.0f}" if result.cpu is not None else "–",
            f"{result.size / result.letters / 1024:.0f}",
        )
    console = Console(width=120)
    console.print(table)
    reuse = next(result for result in results if result.approach.startswith("reuse stylesheets"))
    if reuse.cpu:
        cores = os.cpu_count() or 1
        console.print(
            f"CPU-bound capacity of letter_pdf: {reuse.letters / reuse.cpu:.1f} letters per CPU-second, "
            f"≈ {cores * reuse.letters / reuse.cpu:.0f} letters/s on {cores} idle cores."
        )


if __name__ == "__main__":
    main()
