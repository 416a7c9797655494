"""Benchmark duplicate-customer candidates: blocking + rapidfuzz against scoring every pair.

    nice -n 19 .venv/bin/python benchmarks/bench_duplicates.py --customers 1000000 --all-pairs 3000
    .venv/bin/python benchmarks/bench_duplicates.py --customers 5000 --all-pairs 800   # smoke size

Data (generated, seeded, no database): ``--customers`` companies with names of two or three
made-up words and a legal form, a country, a tax id on half of them, one contact each (an e-mail
at the company's domain or at a free-mail one, a phone, a postal address on a third). Then 2 %
of them get a planted duplicate: the same company typed again in the ERP (legal form changed or
dropped, words reordered, upper case, an accent or a typo in one word, the tax id on a third of
them, the phone or e-mail domain on half). Recall is measured on the planted pairs.

Times: building the records (normalising names, phones, ids), then ``candidate_pairs`` (wall and
CPU), peak RSS. The simple approach in the same run: every pair of the first ``--all-pairs``
customers scored with the same scorer; blocking must find every pair scoring ≥ 50 that all-pairs
finds whose two customers share a blocking key (exit 1 otherwise: "MISMATCH"), and the numbers
show how far all-pairs is from a million (n²/2).
"""

from __future__ import annotations

import argparse
import random
import resource
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relance.quality import duplicates as d

FORMS = ["GmbH", "SARL", "S.A.", "SAS", "Ltd", "Inc.", "BV", "S.p.A.", "", ""]
FREE = ["gmail.com", "yahoo.fr", "hotmail.com", "outlook.com", "orange.fr"]
COUNTRIES = [("FR", "+331"), ("DE", "+4930"), ("GB", "+4420"), ("NL", "+3120")]
ACCENTS = str.maketrans("aeiou", "áéíóú")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def vocabulary(rng: random.Random, size: int) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["tr", "st", "ch", "qu"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).capitalize())
    return sorted(words)


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    at = rng.randrange(1, len(word) - 1)
    return word[:at] + rng.choice(string.ascii_lowercase) + word[at + 1 :]


def generate(n: int, seed: int) -> tuple[list[dict[str, object]], set[tuple[int, int]]]:
    """``n`` customers (plus 2 % planted duplicates) as plain dicts, and the planted pairs."""
    rng = random.Random(seed)
    words = vocabulary(rng, max(2000, n // 4))
    rows: list[dict[str, object]] = []
    for pk in range(1, n + 1):
        name_words = rng.sample(words, rng.choice((2, 2, 3)))
        country, prefix = rng.choice(COUNTRIES)
        domain = f"{''.join(name_words).lower()}.{country.lower()}"
        rows.append(
            {
                "id": pk,
                "name": " ".join(name_words) + (" " + rng.choice(FORMS)).rstrip(),
                "words": name_words,
                "country": country,
                "tax_id": f"{country}{rng.randrange(10**9, 10**10)}" if rng.random() < 0.5 else "",
                "email": f"ap@{domain}"
                if rng.random() < 0.6
                else f"{name_words[0].lower()}{pk}@{rng.choice(FREE)}",
                "phone": f"{prefix}{rng.randrange(10**7, 10**8)}",
                "address": f"{rng.randint(1, 200)} {rng.choice(words)} street {rng.randint(10000, 99999)}"
                if rng.random() < 0.33
                else "",
            }
        )
    planted: set[tuple[int, int]] = set()
    for original in rng.sample(rows[:n], max(1, n // 50)):
        name_words = list(original["words"])  # type: ignore[call-overload]
        rng.shuffle(name_words)
        change = rng.random()
        if change < 0.3:
            name_words[-1] = typo(name_words[-1], rng)
        elif change < 0.5:
            name_words[0] = name_words[0].translate(ACCENTS)
        name = " ".join(name_words) + (" " + rng.choice(FORMS)).rstrip()
        pk = len(rows) + 1
        rows.append(
            {
                "id": pk,
                "name": name.upper() if rng.random() < 0.3 else name,
                "words": name_words,
                "country": original["country"],
                "tax_id": original["tax_id"] if rng.random() < 0.33 else "",
                "email": original["email"] if rng.random() < 0.5 else "",
                "phone": original["phone"] if rng.random() < 0.5 else "",
                "address": original["address"],
            }
        )
        planted.add((int(original["id"]), pk))  # type: ignore[call-overload]
    return rows, planted


def facts_of(rows: list[dict[str, object]]) -> list[d.CustomerFacts]:
    return [
        d.customer_facts(
            id=int(row["id"]),  # type: ignore[call-overload]
            ref=f"C{row['id']}",
            name=str(row["name"]),
            country=str(row["country"]),
            tax_id=str(row["tax_id"]),
            emails=[str(row["email"])] if row["email"] else [],
            phones=[str(row["phone"])],
            addresses=[str(row["address"])] if row["address"] else [],
        )
        for row in rows
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--all-pairs", type=int, default=2000, help="customers the all-pairs baseline scores")
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()

    started = time.perf_counter()
    rows, planted = generate(args.customers, args.seed)
    print(
        f"generated {len(rows):,} customers ({len(planted):,} planted duplicates) in {time.perf_counter() - started:.1f} s"
    )

    wall, cpu0 = time.perf_counter(), cpu()
    facts = facts_of(rows)
    del rows
    build_wall, build_cpu = time.perf_counter() - wall, cpu() - cpu0
    print(f"records: {build_wall:.1f} s wall, {build_cpu:.1f} s CPU, peak RSS {rss_mb():,.0f} MB")

    wall, cpu0 = time.perf_counter(), cpu()
    pairs, stats = d.candidate_pairs(facts)
    find_wall, find_cpu = time.perf_counter() - wall, cpu() - cpu0
    found = {(pair.low.id, pair.high.id) for pair in pairs}
    recall = len(planted & found) / len(planted)
    print(
        f"blocking: {stats.keys:,} keys, {stats.compared:,} pairs compared, {stats.skipped_blocks:,} keys too common; "
        f"{len(pairs):,} candidates; recall {recall:.3f} of planted pairs"
    )
    print(f"candidates: {find_wall:.1f} s wall, {find_cpu:.1f} s CPU, peak RSS {rss_mb():,.0f} MB")
    print(
        f"total (records + candidates): {build_wall + find_wall:.1f} s wall, {build_cpu + find_cpu:.1f} s CPU"
    )

    # the simple approach: every pair of a prefix (plus the planted copies of it), same scorer
    small_ids = set(range(1, args.all_pairs + 1))
    small_ids |= {copy for original, copy in planted if original in small_ids}
    small = [facts_row for facts_row in facts if facts_row.id in small_ids]
    wall, cpu0 = time.perf_counter(), cpu()
    everything = d.all_pairs(small)
    all_wall, all_cpu = time.perf_counter() - wall, cpu() - cpu0
    n_small = len(small)
    per_pair = all_cpu / max(1, n_small * (n_small - 1) // 2)
    million = 1_000_000 * 999_999 // 2
    print(
        f"all pairs of {n_small:,} customers: {n_small * (n_small - 1) // 2:,} pairs in {all_wall:.1f} s wall, "
        f"{all_cpu:.1f} s CPU; at 1,000,000 customers that is {million * per_pair / 3600 / 24:,.0f} CPU-days"
    )
    blocked_small, _ = d.candidate_pairs(small)
    want = {(p.low.id, p.high.id) for p in everything}
    got = {(p.low.id, p.high.id) for p in blocked_small}
    missed = want - got
    # a pair blocking cannot see shares no key: names with no common rare word and no shared id
    print(
        f"all pairs found {len(want):,} candidates, blocking {len(got):,}; blocking missed {len(missed):,}, "
        f"all-pairs missed {len(got - want):,}"
    )
    if got - want:
        print("MISMATCH: blocking returned a pair all-pairs does not score as a candidate")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
