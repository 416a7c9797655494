"""Exchange rates: one per entity, date and pair, upserted (``relance rates import``)."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from relance.ingest.records import ExchangeRateRecord
from relance.ingest.services.bulk import insert_rows, update_rows
from relance.ingest.services.writer import Item, Writer
from relance.ledger.models import ExchangeRate, VersionScope

EXPECTED_ONE_RATE = "one rate per date and pair ({pair} on {on} is already on line {first})"


class ExchangeRateWriter(Writer):
    """Keyed by (date, base, quote): a batch is one look-up, one insert and one update."""

    key_field = "date"
    scope = VersionScope.RATES

    def _duplicate(self, item: Item, first_line: int | None, first_digest: str, digest: str) -> None:
        if self.deduplicate and digest == first_digest:
            self.merged_duplicates += 1
            return
        record: ExchangeRateRecord = item.record
        pair = f"{record.base_currency}→{record.quote_currency}"
        expected = EXPECTED_ONE_RATE.format(pair=pair, on=record.rate_date, first=first_line)
        self.reject(item, "date", expected, record.rate_date)

    def _write(self, batch: list[Item]) -> None:
        days = {item.record.rate_date for item in batch}
        existing = {
            (rate.rate_date, rate.base_currency, rate.quote_currency): rate
            for rate in ExchangeRate.objects.filter(entity=self.entity, rate_date__in=days).only(
                "id", "rate_date", "base_currency", "quote_currency", "rate"
            )
        }
        now = timezone.now()
        inserts: list[tuple[object, ...]] = []
        updates: list[tuple[object, ...]] = []
        for item in batch:
            record: ExchangeRateRecord = item.record
            stored = existing.get((record.rate_date, record.base_currency, record.quote_currency))
            if stored is None:
                inserts.append((record.rate_date, record.base_currency, record.quote_currency, record.rate))
                self.created += 1
            elif stored.rate != record.rate:
                updates.append((record.rate, now, stored.pk))
                self.updated += 1
            else:
                self.unchanged += 1
        stamp = connection.ops.adapt_datetimefield_value(now)
        insert_rows(
            ExchangeRate,
            ["rate_date", "base_currency", "quote_currency", "rate"],
            inserts,
            {"entity_id": self.entity.pk, "created_at": stamp, "updated_at": stamp},
        )
        update_rows(ExchangeRate, ["rate", "updated_at"], updates)
