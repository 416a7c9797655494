"""Writes of the connectors: a sync (pull, import, push back), connector settings, scheduled syncs.

A sync pulls every stream first, outside any transaction (network calls never hold the database;
a rotated OAuth token is saved at once), then validates and writes all the rows in **one**
transaction through ``relance.ingest`` — the same parser and all-or-nothing upsert as
``relance import``. Any rejected row rolls the whole sync back: nothing written, cursors kept, every
error named by its ERP record (``odoo:account.move/42: due_date: expected …``). Then the changes
made in Relance are pushed, each recorded once pushed (a second sync pushes nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from relance.connectors.adapters.base import STREAMS, Adapter, ConnectorError, PulledRow, PushItem
from relance.connectors.adapters.erpnext import ERPNextAdapter
from relance.connectors.adapters.odoo import OdooAdapter
from relance.connectors.adapters.quickbooks import PRODUCTION_URL, QuickBooksAdapter
from relance.connectors.credentials import EncryptedTokenStore, credential
from relance.connectors.models import Connector, ConnectorSource, PushedChange
from relance.connectors.selectors import connectors_due, push_candidates, pushed_payment_refs
from relance.core.errors import ErrorList, FieldError, ValidationFailed
from relance.ingest.parsing import RowParser
from relance.ingest.records import UpsertResult
from relance.ingest.services import records_upsert
from relance.ledger.models import Entity

logger = logging.getLogger(__name__)

# From this many rows of a stream, the parser reads every customer of the entity in one query.
PRELOAD_ROWS = 1000

# (stream or "push", done, total or None)
SyncProgress = Callable[[str, int, int | None], None]


def adapter_for(connector: Connector) -> Adapter:
    """The connector's adapter, its credentials read from the environment (credentials.py)."""
    options = connector.options or {}
    page_size = int(options.get("page_size", 500))
    if connector.source == ConnectorSource.ODOO:
        return OdooAdapter(
            url=connector.url,
            database=str(options.get("database", "")),
            login=credential(connector, "LOGIN"),
            api_key=credential(connector, "API_KEY"),
            page_size=page_size,
            journal_id=int(options["journal_id"]) if options.get("journal_id") else None,
        )
    if connector.source == ConnectorSource.ERPNEXT:
        return ERPNextAdapter(
            url=connector.url,
            api_key=credential(connector, "API_KEY"),
            api_secret=credential(connector, "API_SECRET"),
            page_size=page_size,
            company=options.get("company"),
            paid_to_account=options.get("paid_to_account"),
        )
    if connector.source == ConnectorSource.QUICKBOOKS:
        store = EncryptedTokenStore(connector)
        return QuickBooksAdapter(
            realm_id=str(options.get("realm_id", "")),
            client_id=credential(connector, "CLIENT_ID"),
            client_secret=credential(connector, "CLIENT_SECRET"),
            tokens=store,
            initial_refresh_token=None
            if connector.token_ciphertext
            else credential(connector, "REFRESH_TOKEN"),
            url=connector.url or PRODUCTION_URL,
            token_url=str(
                options.get("token_url") or "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
            ),
            page_size=page_size,
        )
    raise ConnectorError(f"unknown connector source {connector.source!r}")


@dataclass
class StreamOutcome:
    kind: str
    rows: int = 0
    result: UpsertResult = field(default_factory=UpsertResult)
    cursor: str | None = None
    skipped_echoes: int = 0


@dataclass
class SyncOutcome:
    """What a sync did, or (dry run, rejected rows) would have done."""

    source: str
    entity: str
    dry_run: bool
    committed: bool = False
    streams: dict[str, StreamOutcome] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    pushed: list[dict[str, str]] = field(default_factory=list)
    push_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "entity": self.entity,
            "dry_run": self.dry_run,
            "committed": self.committed,
            "pulled": {
                kind: {
                    "rows": stream.rows,
                    "created": stream.result.created,
                    "updated": stream.result.updated,
                    "unchanged": stream.result.unchanged,
                    "cursor": stream.cursor,
                    "skipped_echoes": stream.skipped_echoes,
                }
                for kind, stream in self.streams.items()
            },
            "error_count": len(self.errors),
            "errors": self.errors,
            "pushed": self.pushed,
            "push_errors": self.push_errors,
        }


def _error_text(error: FieldError) -> str:
    """``odoo:account.move/42: due_date: expected …`` — the ERP record stands where a file's line would."""
    if error.line is None and error.source:
        return f"{error.source}: {error}"
    return str(error)


def sync_run(
    *,
    connector: Connector,
    since: str | None = None,
    dry_run: bool = False,
    push: bool = True,
    adapter: Adapter | None = None,
    progress: SyncProgress | None = None,
) -> SyncOutcome:
    """Pull every stream since its cursor (or ``since``), import it all or nothing, push back."""
    entity: Entity = connector.entity
    outcome = SyncOutcome(source=connector.source, entity=entity.name, dry_run=dry_run)
    own = adapter is None
    adapter = adapter or adapter_for(connector)
    try:
        pulled = _pull(connector, adapter, outcome, since, progress)
        _import(connector, entity, pulled, outcome, dry_run, progress)
        if push and connector.push_enabled and outcome.committed or push and dry_run:
            _push(connector, adapter, outcome, dry_run, progress)
    finally:
        if own:
            adapter.close()
    if not dry_run:
        now = timezone.now()
        Connector.objects.filter(pk=connector.pk).update(
            last_sync_at=now, last_result=outcome.as_dict(), updated_at=now
        )
    return outcome


def _pull(
    connector: Connector,
    adapter: Adapter,
    outcome: SyncOutcome,
    since: str | None,
    progress: SyncProgress | None,
) -> dict[str, list[PulledRow]]:
    echoes = pushed_payment_refs(connector=connector)
    pulled: dict[str, list[PulledRow]] = {}
    for kind in STREAMS:
        stored = connector.cursors.get(kind)
        stream = outcome.streams[kind] = StreamOutcome(kind, cursor=stored)
        rows = pulled[kind] = []
        for page in adapter.pull(kind, since or stored):
            for row in page.rows:
                if kind == "payments" and row.echo_of and row.echo_of in echoes:
                    stream.skipped_echoes += 1  # a payment Relance pushed, coming back
                    continue
                rows.append(row)
            # The cursor only moves forward: --since re-reads older records without rewinding it.
            if page.cursor is not None and (stream.cursor is None or page.cursor > stream.cursor):
                stream.cursor = page.cursor
            stream.rows = len(rows)
            if progress is not None:
                progress(kind, stream.rows, None)
    return pulled


def _import(
    connector: Connector,
    entity: Entity,
    pulled: dict[str, list[PulledRow]],
    outcome: SyncOutcome,
    dry_run: bool,
    progress: SyncProgress | None,
) -> None:
    """Every stream in one transaction, in the import's order; the first rejected stream stops it
    (later streams refer to its rows, so their errors would only repeat the cause)."""
    with transaction.atomic():
        for kind in STREAMS:
            rows = pulled[kind]
            if not rows:
                continue
            # Many rows: read the entity's customers once rather than once per distinct ref.
            parser = RowParser(kind, entity=entity, preload=len(rows) >= PRELOAD_ROWS)
            records = []
            errors: list[FieldError] = []
            for row in rows:
                try:
                    records.append(parser.parse(row.cells, line=None, source=row.record))
                except ErrorList as exc:
                    errors.extend(exc.errors)
            if not errors:
                try:
                    outcome.streams[kind].result = records_upsert(kind=kind, records=records, entity=entity)
                except ErrorList as exc:
                    errors.extend(exc.errors)
            if errors:
                outcome.errors = [_error_text(error) for error in errors]
                transaction.set_rollback(True)
                return
            if progress is not None:
                progress(f"import {kind}", len(rows), len(rows))
        if dry_run:
            transaction.set_rollback(True)
            return
        cursors = dict(connector.cursors)
        for kind, stream in outcome.streams.items():
            if stream.cursor:
                cursors[kind] = stream.cursor
        connector.cursors = cursors
        Connector.objects.filter(pk=connector.pk).update(cursors=cursors)
        _audited(connector, outcome)
        outcome.committed = True


def _audited(connector: Connector, outcome: SyncOutcome) -> None:
    from relance.audit.services import audit_record

    audit_record(
        action="import",
        entity=connector.entity,
        object_type="connectors.sync",
        object_repr=connector.source,
        after={kind: stream.rows for kind, stream in outcome.streams.items()},
    )


def _push(
    connector: Connector,
    adapter: Adapter,
    outcome: SyncOutcome,
    dry_run: bool,
    progress: SyncProgress | None,
) -> None:
    """Each item on its own: a failure is reported and retried next sync; the others go on."""
    items: list[PushItem] = list(push_candidates(connector=connector))
    for done, item in enumerate(items, start=1):
        if dry_run:
            outcome.pushed.append({"key": item.key, "kind": item.kind, "external_id": ""})
            continue
        try:
            result = adapter.push(item)
        except ConnectorError as exc:
            outcome.push_errors.append(f"{item.key}: {exc}")
            continue
        PushedChange.objects.update_or_create(
            connector=connector,
            key=item.key,
            defaults={"fingerprint": item.fingerprint, "external_id": result.external_id[:200]},
        )
        outcome.pushed.append({"key": item.key, "kind": item.kind, "external_id": result.external_id})
        if progress is not None:
            progress("push", done, len(items))


def connector_set(
    *,
    entity: Entity,
    source: str,
    url: str | None = None,
    options: dict[str, Any] | None = None,
    credentials_env: str | None = None,
    interval_minutes: int | None = None,
    push_enabled: bool | None = None,
) -> Connector:
    """Create or update the entity's connector for ``source``; options are merged."""
    if source not in ConnectorSource.values:
        raise ValidationFailed(
            f"source: expected one of {', '.join(ConnectorSource.values)}, found {source!r}"
        )
    connector = Connector.objects.filter(entity=entity, source=source).first()
    if connector is None:
        if not url and source != ConnectorSource.QUICKBOOKS:
            raise ValidationFailed(f"url: expected the {source} base URL (--url)")
        connector = Connector(
            entity=entity,
            source=source,
            url=url or PRODUCTION_URL,
            credentials_env=credentials_env or f"RELANCE_{source.upper()}",
            push_since=timezone.now(),
        )
    if url:
        connector.url = url
    if credentials_env:
        connector.credentials_env = credentials_env
    if options:
        connector.options = {**connector.options, **options}
    if interval_minutes is not None:
        connector.interval_minutes = interval_minutes or None
        connector.next_sync_at = None
    if push_enabled is not None:
        connector.push_enabled = push_enabled
    connector.full_clean()
    connector.save()
    return connector


def connectors_sync_due(now: datetime) -> int:
    """The worker's periodic job: sync every connector whose interval has elapsed. A connector is
    claimed by moving its next sync first (one worker runs it even when several are running)."""
    synced = 0
    for connector in connectors_due(now=now):
        assert connector.interval_minutes is not None
        next_at = now + timedelta(minutes=connector.interval_minutes)
        claimed = Connector.objects.filter(pk=connector.pk, next_sync_at=connector.next_sync_at).update(
            next_sync_at=next_at
        )
        if not claimed:
            continue
        try:
            outcome = sync_run(connector=connector)
        except (ConnectorError, ValidationFailed) as exc:
            logger.warning("scheduled %s sync of %s failed: %s", connector.source, connector.entity.name, exc)
            Connector.objects.filter(pk=connector.pk).update(
                last_result={"error": str(exc)}, last_sync_at=now
            )
            continue
        if outcome.errors:
            logger.warning(
                "scheduled %s sync of %s rejected: %s",
                connector.source,
                connector.entity.name,
                outcome.errors[:5],
            )
        synced += 1
    return synced
