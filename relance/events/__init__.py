"""Domain events: what changed, written in the same transaction as the change (a transactional
outbox). ``emit`` is the one way to record one; ``relance.webhooks`` delivers them (ADR 0026)."""
