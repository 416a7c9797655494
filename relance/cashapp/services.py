"""Cash application writes: linking bank accounts, importing statements (all or nothing).

One import, end to end: the file's format is sniffed (or given), a parser of
``relance.cashapp.statements`` reads the whole file into ``StatementData`` (every malformed entry
reported, ``FILE:LINE: statement S, entry N: field: expected …, found …``), each statement's
account must be linked to the entity, then one transaction stores the statements not seen and the
lines not seen (by account and ``bank_ref``). Any error: nothing is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from relance.cashapp.models import BankAccount, BankLine, BankStatement, LineDirection, LineStatus
from relance.cashapp.statements.base import FORMATS, StatementData, compact_account, file_error
from relance.core.errors import Conflict, ErrorList, FieldError, ValidationFailed
from relance.core.identifiers import normalise_iban
from relance.core.money import validate_currency
from relance.ingest.services.bulk import insert_rows
from relance.ledger.models import Entity

LOOKUP_CHUNK = 500
WRITE_BATCH = 1000
MAX_REF = 140
IBAN_SHAPE = 15  # an IBAN has at least 15 characters, two letters then two digits

ACCOUNT_NOT_LINKED = (
    "an account linked to entity {entity} (link it with `relance bank account add {account} "
    "--currency {currency}`)"
)
ACCOUNT_OTHER_CURRENCY = " — it is linked in {currencies} only"
ACCOUNT_EXISTS = "account {account} {currency} is already linked to entity {entity}"
UNKNOWN_FORMAT = "unknown format {format!r}: expected one of " + ", ".join(FORMATS)
MAPPING_ONLY_CSV = "--mapping applies to CSV/XLSX statements only (the file is {format})"
REF_TOO_LONG = f"a bank reference of at most {MAX_REF} characters"
CONCURRENT = "{source}: the same statement was being imported at the same time; import it again"


def account_id_normalise(value: str) -> str:
    """An IBAN compact and checked (its check digits), else a bank's own account number compacted."""
    compact = compact_account(value)
    if len(compact) >= IBAN_SHAPE and compact[:2].isalpha() and compact[2:4].isdigit():
        return normalise_iban(compact)
    if not compact:
        raise ValidationFailed("expected an IBAN or an account number, found nothing", code="account_invalid")
    return compact


def bank_account_add(*, entity: Entity, account: str, currency: str, name: str = "") -> BankAccount:
    """Link a bank account of ``entity``: its statements may then be imported."""
    account_id = account_id_normalise(account)
    currency = validate_currency(currency.strip().upper())
    if BankAccount.objects.filter(entity=entity, account_id=account_id, currency=currency).exists():
        raise Conflict(
            ACCOUNT_EXISTS.format(account=account_id, currency=currency, entity=entity.name),
            code="account_exists",
        )
    return BankAccount.objects.create(entity=entity, account_id=account_id, currency=currency, name=name)


@dataclass
class StatementOutcome:
    statement_id: str
    account: str
    currency: str
    created: bool
    lines_added: int
    lines_known: int
    skipped: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ImportOutcome:
    """What an import did, for the command's summary, ``--json`` and the API."""

    source: str
    format: str
    sha256: str
    statements: list[StatementOutcome] = field(default_factory=list)

    @property
    def lines_added(self) -> int:
        return sum(statement.lines_added for statement in self.statements)

    @property
    def lines_known(self) -> int:
        return sum(statement.lines_known for statement in self.statements)

    @property
    def statements_created(self) -> int:
        return sum(1 for statement in self.statements if statement.created)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "sha256": self.sha256,
            "statements": len(self.statements),
            "statements_created": self.statements_created,
            "created": self.lines_added,  # the audit trail's bulk-import counts read these two
            "unchanged": self.lines_known,
            "lines_added": self.lines_added,
            "lines_known": self.lines_known,
            "details": [statement.as_dict() for statement in self.statements],
        }


def statements_read(
    path: Path,
    *,
    format: str | None = None,
    mapping: str | Path | None = None,
    source: str = "",
    progress: Callable[[int], None] | None = None,
) -> tuple[str, list[StatementData]]:
    """The format and statements of a file, by the parser its format needs (no database)."""
    from relance.cashapp.statements.sniff import sniff_format

    source = source or str(path)
    if format is not None and format not in FORMATS:
        raise file_error(source, UNKNOWN_FORMAT.format(format=format))
    chosen = format or sniff_format(path, source=source)
    if mapping is not None and chosen != "csv":
        raise file_error(source, MAPPING_ONLY_CSV.format(format=chosen))
    if chosen in ("camt053", "camt054"):
        from relance.cashapp.statements.camt import parse_camt

        return chosen, parse_camt(path, source=source, expect=chosen if format else None, progress=progress)
    if chosen == "mt940":
        from relance.cashapp.statements.mt940 import parse_mt940

        return chosen, parse_mt940(path, source=source, progress=progress)
    from relance.cashapp.statements.tabular import load_mapping, parse_tabular

    try:
        loaded = load_mapping(mapping) if mapping is not None else None
    except ValidationFailed as exc:
        raise file_error(str(mapping), exc.message) from None
    return chosen, parse_tabular(path, source=source, mapping=loaded, progress=progress)


def bank_statement_import(
    *,
    entity: Entity,
    path: Path,
    format: str | None = None,
    mapping: str | Path | None = None,
    source: str = "",
    progress: Callable[[int], None] | None = None,
    audit: bool = True,
) -> ImportOutcome:
    """Import a statement file for ``entity``: idempotent per statement and entry, all or nothing.

    Raises ``ErrorList`` (every problem, ``FILE:LINE: …``) and writes nothing when the file is
    malformed, of an unknown format or namespace, or for an account not linked to the entity.
    ``audit``: record the import in the audit trail (the API's write audit does it itself)."""
    path = Path(path)
    source = source or str(path)
    digest = _sha256(path)
    chosen, statements = statements_read(
        path, format=format, mapping=mapping, source=source, progress=progress
    )
    accounts = _accounts_checked(entity, statements)
    outcome = ImportOutcome(source=source, format=chosen, sha256=digest)
    try:
        with transaction.atomic():
            seen: set[tuple[int, str]] = set()
            for statement in statements:
                account = accounts[(statement.account_iban, statement.account_currency)]
                outcome.statements.append(_statement_store(entity, account, statement, digest, source, seen))
            if audit:
                _audited(entity, outcome)
    except IntegrityError:
        raise Conflict(CONCURRENT.format(source=source), code="import_conflict") from None
    return outcome


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _accounts_checked(entity: Entity, statements: list[StatementData]) -> dict[tuple[str, str], BankAccount]:
    """The linked account of every statement; an error per statement whose account is not linked,
    and per line whose reference cannot be stored."""
    linked = {(account.account_id, account.currency): account for account in entity.bank_accounts.all()}
    errors: list[FieldError] = []
    found: dict[tuple[str, str], BankAccount] = {}
    for statement in statements:
        key = (statement.account_iban, statement.account_currency)
        source, line, where = _split_position(statement.position)
        if key in linked:
            found[key] = linked[key]
        else:
            expected = ACCOUNT_NOT_LINKED.format(
                entity=entity.name, account=statement.account_iban, currency=statement.account_currency
            )
            others = sorted(
                currency for account_id, currency in linked if account_id == statement.account_iban
            )
            if others:
                expected += ACCOUNT_OTHER_CURRENCY.format(currencies=", ".join(others))
            errors.append(
                FieldError(
                    f"{where}: account",
                    expected,
                    f"{statement.account_iban} {statement.account_currency}".strip(),
                    line,
                    source,
                )
            )
        for data, position in zip(statement.lines, statement.positions, strict=True):
            if len(data.bank_ref) > MAX_REF:
                source, line, where = _split_position(position)
                errors.append(
                    FieldError(f"{where}: bank reference", REF_TOO_LONG, data.bank_ref, line, source)
                )
    if errors:
        raise ErrorList(errors, code="statement_refused")
    return found


def _split_position(position: str) -> tuple[str, int | None, str]:
    """``FILE:LINE: where`` back into its parts (a file name may hold colons: split from the right)."""
    head, _, where = position.rpartition(": ")
    source, _, line = head.rpartition(":")
    if line.isdigit():
        return source, int(line), where
    return head, None, where


def _statement_store(
    entity: Entity,
    account: BankAccount,
    statement: StatementData,
    digest: str,
    source: str,
    seen: set[tuple[int, str]],
) -> StatementOutcome:
    stored, created = BankStatement.objects.get_or_create(
        account=account,
        statement_id=statement.statement_id,
        defaults={
            "entity": entity,
            "format": statement.format,
            "sequence": statement.sequence[:64],
            "sha256": digest,
            "source": Path(source).name[:255],
            "period_start": statement.period_start,
            "period_end": statement.period_end,
            "opening_balance": statement.opening_balance,
            "closing_balance": statement.closing_balance,
            "imported_at": timezone.now(),
        },
    )
    refs = [data.bank_ref for data in statement.lines]
    known: set[str] = set()
    for start in range(0, len(refs), LOOKUP_CHUNK):
        chunk = refs[start : start + LOOKUP_CHUNK]
        known.update(
            BankLine.objects.filter(account=account, bank_ref__in=chunk).values_list("bank_ref", flat=True)
        )
    rows = []
    now = timezone.now()
    for data in statement.lines:
        key = (account.pk, data.bank_ref)
        if data.bank_ref in known or key in seen:
            continue
        seen.add(key)
        rows.append(_line_row(data, now))
    for start in range(0, len(rows), WRITE_BATCH):
        # The ingest's bulk insert (COPY on PostgreSQL, one executemany on SQLite): the ORM's
        # bulk_create spends most of an import's time preparing each value.
        insert_rows(
            BankLine,
            LINE_COLUMNS,
            rows[start : start + WRITE_BATCH],
            constants={"entity_id": entity.pk, "statement_id": stored.pk, "account_id": account.pk},
        )
    new_lines = rows
    return StatementOutcome(
        statement_id=statement.statement_id,
        account=account.account_id,
        currency=account.currency,
        created=created,
        lines_added=len(new_lines),
        lines_known=len(statement.lines) - len(new_lines),
        skipped=statement.skipped,
    )


LINE_COLUMNS = [
    "bank_ref",
    "entry_ref",
    "end_to_end_id",
    "booking_date",
    "value_date",
    "amount",
    "currency",
    "direction",
    "is_reversal",
    "charges",
    "bank_transaction_code",
    "counterparty_name",
    "counterparty_iban",
    "counterparty_bic",
    "remittance_unstructured",
    "remittance_structured",
    "raw",
    "status",
    "confidence",
    "reasons",
    "suggestions",
    "created_at",
    "updated_at",
]


def _line_row(data: Any, now: Any) -> tuple[Any, ...]:
    """One ``BankLine`` row in ``LINE_COLUMNS`` order, as the database takes it."""
    credit = data.amount > 0
    raw = data.raw
    charges = raw.get("charges")
    return (
        data.bank_ref,
        data.entry_ref[:140],
        data.end_to_end_id[:140],
        data.booking_date,
        data.value_date,
        data.amount,
        data.currency,
        LineDirection.CREDIT.value if credit else LineDirection.DEBIT.value,
        bool(raw.get("reversal")),
        Decimal(charges) if charges is not None else None,
        data.bank_transaction_code[:64],
        data.counterparty_name[:200],
        data.counterparty_iban[:64],
        data.counterparty_bic[:11],
        data.remittance_unstructured,
        data.remittance_structured[:140],
        json.dumps(raw, default=str, ensure_ascii=False),
        # A debit is stored (the statement stays whole) and never matched.
        LineStatus.UNMATCHED.value if credit else LineStatus.DEBIT.value,
        None,
        "[]",
        "[]",
        now,
        now,
    )


def _audited(entity: Entity, outcome: ImportOutcome) -> None:
    from relance.audit.services import audit_record

    audit_record(
        action="import",
        entity=entity,
        object_type="cashapp.bankstatement",
        object_repr=outcome.source,
        after={
            "format": outcome.format,
            "sha256": outcome.sha256,
            "statements": len(outcome.statements),
            "created": outcome.lines_added,
            "unchanged": outcome.lines_known,
        },
    )


SETTING_FIELDS = (
    "write_off_tolerance",
    "short_payment_action",
    "deduction_max_percent",
    "auto_apply_threshold",
    "match_tolerance",
    "match_tolerance_percent",
)


@transaction.atomic
def cashapp_settings_update(*, entity: Entity, changes: dict[str, Any], actor_label: str) -> Any:
    """Change the entity's cash-application settings (``CashAppSettings``), each value checked by
    the model's own validators (``ValidationFailed`` naming the field); audited with before/after."""
    from django.core.exceptions import ValidationError

    from relance.audit.services import audit_record
    from relance.cashapp.models import CashAppSettings

    unknown = sorted(set(changes) - set(SETTING_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"unknown setting(s) {', '.join(unknown)}: expected {', '.join(SETTING_FIELDS)}"
        )
    settings = CashAppSettings.objects.select_for_update().filter(entity=entity).first()
    settings = settings or CashAppSettings(entity=entity)
    before = {name: str(getattr(settings, name)) for name in SETTING_FIELDS}
    for name, value in changes.items():
        setattr(settings, name, value)
    try:
        settings.full_clean(exclude=["entity"])
    except ValidationError as invalid:
        problems = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in invalid.message_dict.items()
        )
        raise ValidationFailed(problems, code="settings_invalid") from None
    settings.save()
    audit_record(
        action="update",
        actor_label=actor_label,
        entity=entity,
        object_type="cashapp.cashappsettings",
        object_repr=str(settings),
        before=before,
        after={name: str(getattr(settings, name)) for name in SETTING_FIELDS},
    )
    return settings
