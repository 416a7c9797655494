"""A stored prediction run for the workspace's pages (the worklist's next best action, the 360's
prediction panel), shared by the page tests and the browser's accessibility scan."""

from __future__ import annotations

from datetime import timedelta


def store_predictions(ws, rows, *, trained_rows: int = 40):
    """A prediction run of today with ``(invoice, p_late, expected pay date, drivers[, (days
    before, days after)])`` rows: the p10 and p90 pay dates that many days around the expected one
    (5 and 9 by default)."""
    from relance.predict.models import InvoicePrediction, PredictionRun

    run = PredictionRun.objects.create(
        entity=ws.acme, as_of=ws.today, model="survival", trained_rows=trained_rows
    )
    for invoice, p_late, expected, drivers, *spread in rows:
        before, after = spread[0] if spread else (5, 9)
        InvoicePrediction.objects.create(
            run=run,
            entity=ws.acme,
            invoice=invoice,
            as_of=ws.today,
            currency=invoice.currency,
            open_amount=invoice.amount,
            p_late=p_late,
            expected_pay_date=expected,
            pay_date_p10=expected - timedelta(days=before),
            pay_date_p90=expected + timedelta(days=after),
            drivers=drivers,
        )
    return run
