"""Benchmark ``relance bank import`` on a generated camt.053 statement of N entries (issue 17).

For each size: write a camt.053.001.02 file of N entries (one in ten a batch of two
transactions, one in five a debit; remittance, structured references, counterparties as a bank
writes them), import it (parse + store), then import it again (every entry already there: the
idempotency check alone). Reports seconds (wall, and the process's CPU for the import: the database server's
work on PostgreSQL is not in it), entries per second, the parser's peak memory
(tracemalloc, parse only) and the process's peak RSS.

    .venv/bin/python benchmarks/bench_bank_import.py --entries 1000 10000 100000
    .venv/bin/python benchmarks/bench_bank_import.py --entries 100000 --database-url postgres://relance:relance@127.0.0.1/relance_bench

A fresh SQLite file is used by default (deleted afterwards). With ``--database-url`` the database
must be empty or disposable: the benchmark migrates it and writes a ``bench`` entity.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

IBAN = "NL77ABNA0574908765"
NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


def write_statement(path: Path, entries: int, *, seed: int = 17) -> int:
    """A camt.053 file of ``entries`` entries; the number of lines it holds (batches split)."""
    rng = random.Random(seed)
    lines = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NAMESPACE}"><BkToCstmrStmt>\n')
        out.write("<GrpHdr><MsgId>BENCH</MsgId><CreDtTm>2026-12-04T20:00:00</CreDtTm></GrpHdr>\n")
        out.write(f"<Stmt><Id>BENCH-{entries}</Id><Acct><Id><IBAN>{IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>\n")
        for number in range(1, entries + 1):
            debit = number % 5 == 0
            batch = number % 10 == 1
            parts = [rng.randint(100, 500_000) for _ in range(2 if batch else 1)]
            total = sum(parts)
            sign = "DBIT" if debit else "CRDT"
            role = "Cdtr" if debit else "Dbtr"
            details = ""
            for index, cents in enumerate(parts, start=1):
                invoice = f"INV-2026-{rng.randint(1, 999_999):06d}"
                details += (
                    f"<TxDtls><Refs><EndToEndId>E2E-{number}-{index}</EndToEndId></Refs>"
                    f'<AmtDtls><TxAmt><Amt Ccy="EUR">{cents / 100:.2f}</Amt></TxAmt></AmtDtls>'
                    f"<RltdPties><{role}><Nm>Customer {rng.randint(1, 20_000)} SARL</Nm></{role}>"
                    f"<{role}Acct><Id><IBAN>FR76300060000112345678{number % 1000:03d}89</IBAN></Id></{role}Acct>"
                    f"</RltdPties><RltdAgts><{role}Agt><FinInstnId><BIC>AGRIFRPP</BIC></FinInstnId></{role}Agt></RltdAgts>"
                    f"<RmtInf><Ustrd>Payment {invoice} thank you</Ustrd></RmtInf></TxDtls>"
                )
            lines += len(parts)
            out.write(
                f'<Ntry><Amt Ccy="EUR">{total / 100:.2f}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts>BOOK</Sts>'
                "<BookgDt><Dt>2026-12-04</Dt></BookgDt><ValDt><Dt>2026-12-04</Dt></ValDt>"
                f"<AcctSvcrRef>ASR-{number:09d}</AcctSvcrRef>"
                "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
                f"<NtryDtls>{details}</NtryDtls></Ntry>\n"
            )
        out.write("</Stmt></BkToCstmrStmt></Document>\n")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, nargs="+", default=[1000, 10_000], help="statement sizes")
    parser.add_argument(
        "--trace-memory", action="store_true", help="also measure the parser's peak memory (tracemalloc)"
    )
    parser.add_argument(
        "--database-url", default="", help="database to use (default: a temporary SQLite file)"
    )
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="relance-bench-bank-")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp.name}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    from relance.cashapp.models import BankAccount, BankLine, BankStatement
    from relance.cashapp.services import bank_account_add, bank_statement_import, statements_read
    from relance.ledger.services import entity_create_or_update

    call_command("migrate", verbosity=0)
    entity, _ = entity_create_or_update(name="bench", currency="EUR", legal_name="Bench")
    print(f"database: {'PostgreSQL' if 'postgres' in os.environ['DATABASE_URL'] else 'SQLite'}")
    print(
        "| entries | lines | file MB | parse s | parse peak MB | import s | import CPU s | entries/s "
        "| again s | peak RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for entries in args.entries:
        BankLine.objects.all().delete()
        BankStatement.objects.all().delete()
        BankAccount.objects.all().delete()
        bank_account_add(entity=entity, account=IBAN, currency="EUR")
        path = Path(tmp.name) / f"camt053-{entries}.xml"
        lines = write_statement(path, entries)
        started = time.perf_counter()
        statements_read(path, format="camt053")
        parse_seconds = time.perf_counter() - started
        parse_peak = 0
        if args.trace_memory:  # tracemalloc slows parsing several times: a separate, untimed run
            tracemalloc.start()
            statements_read(path, format="camt053")
            _, parse_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        started, cpu = time.perf_counter(), time.process_time()
        outcome = bank_statement_import(entity=entity, path=path)
        import_seconds = time.perf_counter() - started
        import_cpu = time.process_time() - cpu
        assert outcome.lines_added == lines, (outcome.lines_added, lines)
        started = time.perf_counter()
        again = bank_statement_import(entity=entity, path=path)
        again_seconds = time.perf_counter() - started
        assert again.lines_added == 0 and again.lines_known == lines
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak = f"{parse_peak / 1e6:.0f}" if args.trace_memory else "–"
        print(
            f"| {entries:,} | {lines:,} | {path.stat().st_size / 1e6:.1f} | {parse_seconds:.2f} | {peak} | "
            f"{import_seconds:.2f} | {import_cpu:.2f} | {entries / import_seconds:,.0f} | {again_seconds:.2f} | "
            f"{rss:,.0f} |"
        )
        path.unlink()
    tmp.cleanup()


if __name__ == "__main__":
    main()
