"""The per-customer rules of ``decide``, one module per family, in the order ``_decide`` applies them:
holds (and plans), promises, amounts (disputes, small balances), grouping, calendar (business
days), channels, cadence (and the contact cap), installments; then the worklist. ``common``: the
reason codes and the collector of suppressions they all write to."""
