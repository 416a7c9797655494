"""Mapping files: how a source file's columns become the canonical columns of an import kind.

A mapping is YAML (see docs/import.md and docs/mappings/). Without one, header names that equal
canonical names (case and surrounding spaces ignored) are used as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from relance.core.errors import ValidationFailed
from relance.ingest.parsing import COLUMNS, Column, ParseOptions, check_kind
from relance.ingest.records import KINDS

MAPPING_UNREADABLE = "mapping {path}: not a readable YAML mapping file ({error})"
MAPPING_UNKNOWN_KEY = "mapping {path}: unknown setting {key!r}; expected one of {keys}"
MAPPING_UNKNOWN_FIELD = "mapping {path}: unknown {kind} field {name!r} in {section}; expected one of {fields}"
MAPPING_NO_SECTION = "mapping {path} has no {kind} section (it has: {sections})"
MAPPING_WRONG_KIND = "mapping {path} is for {mapping_kind}, not {kind}"
MAPPING_BAD_VALUE = "mapping {path}: {key} must be {expected}, not {value!r}"
MAPPING_NO_SOURCE_COLUMN = (
    "{source}:1: column {column!r} named in the mapping is not in the header ({header})"
)
MISSING_COLUMNS = (
    "{source}:1: missing required column(s) {missing}; {kind} files need the columns {required} "
    "(optional: {optional}); found {found}"
)
SETTINGS = (
    "kind",
    "encoding",
    "delimiter",
    "sheet",
    "date_format",
    "decimal_separator",
    "thousands_separator",
    "columns",
    "constants",
    "derived",
    "deduplicate",
    "skip_rows_without",
    "only_rows_where",
)
TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class MappingFile:
    """A parsed mapping file (or the identity mapping when ``path`` is empty)."""

    kind: str | None = None
    path: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    date_format: str | None = None
    decimal_separator: str = "."
    thousands_separator: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    derived: dict[str, Any] = field(default_factory=dict)
    deduplicate: bool = False
    skip_rows_without: tuple[str, ...] = ()
    #: Keep only the rows whose column holds this text (case and surrounding spaces ignored):
    #: one file holding every invoice, of which a dispute import takes the disputed ones.
    only_rows_where: dict[str, str] = field(default_factory=dict)

    @property
    def parse_options(self) -> ParseOptions:
        return ParseOptions(self.date_format, self.decimal_separator, self.thousands_separator)


def _schema(kind: str, canonical_columns: Sequence[Column] | None) -> tuple[Column, ...]:
    """The canonical columns of ``kind``: an import kind's, or those another reader of tabular files
    passes (bank statements in CSV/XLSX, ``relance.cashapp.statements.tabular``)."""
    return tuple(canonical_columns) if canonical_columns is not None else COLUMNS[check_kind(kind)]


def mapping_load(
    path: Path | str, *, kind: str, canonical_columns: Sequence[Column] | None = None
) -> MappingFile:
    """Read and check a mapping file for ``kind``: every canonical name must exist for that kind
    (``canonical_columns``: the columns when ``kind`` is not an import kind)."""
    schema = _schema(kind, canonical_columns)
    sections = KINDS if kind in KINDS else (*KINDS, kind)
    path = str(path)
    try:
        with open(path, encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationFailed(MAPPING_UNREADABLE.format(path=path, error=exc)) from None
    if not isinstance(data, dict):
        raise ValidationFailed(MAPPING_UNREADABLE.format(path=path, error="expected key: value settings"))
    if any(name in data for name in sections):
        # One file for several kinds: shared settings at the top, one section per kind.
        if kind not in data:
            present = ", ".join(name for name in sections if name in data)
            raise ValidationFailed(MAPPING_NO_SECTION.format(path=path, kind=kind, sections=present))
        section_data = data[kind] or {}
        if not isinstance(section_data, dict):
            raise ValidationFailed(MAPPING_UNREADABLE.format(path=path, error=f"{kind}: expected settings"))
        data = {key: value for key, value in data.items() if key not in sections} | section_data
    for key in data:
        if key not in SETTINGS:
            raise ValidationFailed(MAPPING_UNKNOWN_KEY.format(path=path, key=key, keys=", ".join(SETTINGS)))
    mapping_kind = data.get("kind")
    if mapping_kind is not None and mapping_kind != kind:
        raise ValidationFailed(MAPPING_WRONG_KIND.format(path=path, mapping_kind=mapping_kind, kind=kind))
    fields = tuple(column.name for column in schema)

    def section(name: str) -> dict[str, Any]:
        value = data.get(name) or {}
        if not isinstance(value, dict):
            raise ValidationFailed(
                MAPPING_BAD_VALUE.format(
                    path=path, key=name, expected="a set of field: value lines", value=value
                )
            )
        for canonical in value:
            if canonical not in fields:
                raise ValidationFailed(
                    MAPPING_UNKNOWN_FIELD.format(
                        path=path, kind=kind, name=canonical, section=name, fields=", ".join(fields)
                    )
                )
        return value

    columns = {str(k): str(v) for k, v in section("columns").items()}
    constants = {str(k): "" if v is None else str(v) for k, v in section("constants").items()}
    derived = section("derived")
    for name, spec in derived.items():
        if isinstance(spec, dict) and set(spec) == {"days_between"}:
            pair = spec["days_between"]
            if isinstance(pair, list) and len(pair) == 2:
                continue
        elif isinstance(spec, str):
            continue
        raise ValidationFailed(
            MAPPING_BAD_VALUE.format(
                path=path,
                key=f"derived.{name}",
                expected='a template such as "PAY-{invoiceNumber}" or {days_between: [FromColumn, ToColumn]}',
                value=spec,
            )
        )
    date_format = data.get("date_format")
    if date_format is not None:
        try:
            datetime.now().strftime(str(date_format))
        except ValueError:
            raise ValidationFailed(
                MAPPING_BAD_VALUE.format(
                    path=path, key="date_format", expected="a strftime format", value=date_format
                )
            ) from None
    for key in ("decimal_separator", "thousands_separator", "delimiter"):
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 1):
            raise ValidationFailed(
                MAPPING_BAD_VALUE.format(path=path, key=key, expected="one character", value=value)
            )
    skip = data.get("skip_rows_without") or []
    if isinstance(skip, str):
        skip = [skip]
    only = data.get("only_rows_where") or {}
    if not isinstance(only, dict):
        raise ValidationFailed(
            MAPPING_BAD_VALUE.format(
                path=path, key="only_rows_where", expected="a set of Column: value lines", value=only
            )
        )
    return MappingFile(
        kind=mapping_kind,
        path=path,
        encoding=data.get("encoding"),
        delimiter=data.get("delimiter"),
        sheet=data.get("sheet"),
        date_format=str(date_format) if date_format else None,
        decimal_separator=data.get("decimal_separator") or ".",
        thousands_separator=data.get("thousands_separator") or "",
        columns=columns,
        constants=constants,
        derived=dict(derived),
        deduplicate=bool(data.get("deduplicate", False)),
        skip_rows_without=tuple(str(column) for column in skip),
        only_rows_where={str(column): str(value).strip().lower() for column, value in only.items()},
    )


Getter = Callable[[Mapping[str, str | None]], str | None]


@dataclass(frozen=True)
class BoundMapping:
    """A mapping checked against one file's header: turns a source row into canonical cells."""

    getters: tuple[tuple[str, Getter], ...]
    ignored_columns: tuple[str, ...]
    skip_rows_without: tuple[str, ...]
    identity: bool = False
    only_rows_where: tuple[tuple[str, str], ...] = ()

    def apply(self, row: Mapping[str, str | None]) -> Mapping[str, str | None] | None:
        """The canonical cells of ``row``, or None when the mapping says to skip the row."""
        if self.identity:
            return row  # the header already has the canonical names: no copy per row
        for column in self.skip_rows_without:
            value = row.get(column)
            if value is None or not value.strip():
                return None
        for column, wanted in self.only_rows_where:
            if (row.get(column) or "").strip().lower() != wanted:
                return None
        return {name: getter(row) for name, getter in self.getters}


def mapping_bind(
    mapping: MappingFile,
    *,
    kind: str,
    header: list[str],
    source: str,
    canonical_columns: Sequence[Column] | None = None,
) -> BoundMapping:
    """Check that the file has what the mapping needs and every required canonical column
    (``canonical_columns``: the columns when ``kind`` is not an import kind)."""
    schema = _schema(kind, canonical_columns)
    fields = tuple(column.name for column in schema)
    present = set(header)
    by_canonical_name = {name.strip().lower(): name for name in header if name}

    def need(column: str) -> None:
        if column not in present:
            raise ValidationFailed(
                MAPPING_NO_SOURCE_COLUMN.format(source=source, column=column, header=", ".join(header))
            )

    getters: list[tuple[str, Getter]] = []
    used: set[str] = set()
    for name in fields:
        constant = mapping.constants.get(name)
        getter: Getter | None = None
        if name in mapping.columns:
            column = mapping.columns[name]
            need(column)
            used.add(column)
            getter = _column_getter(column, constant)
        elif name in mapping.derived:
            getter = _derived_getter(mapping.derived[name], mapping, need, used)
        elif name.lower() in by_canonical_name and name not in mapping.constants:
            column = by_canonical_name[name.lower()]
            used.add(column)
            getter = _column_getter(column, None)
        elif name.lower() in by_canonical_name:
            column = by_canonical_name[name.lower()]
            used.add(column)
            getter = _column_getter(column, constant)
        elif constant is not None:
            getter = _constant_getter(constant)
        if getter is not None:
            getters.append((name, getter))
    for column in (*mapping.skip_rows_without, *mapping.only_rows_where):
        need(column)
    provided = {name for name, _ in getters}
    required = [column.name for column in schema if column.required]
    missing = [name for name in required if name not in provided]
    if missing:
        optional = [column.name for column in schema if not column.required]
        raise ValidationFailed(
            MISSING_COLUMNS.format(
                source=source,
                missing=", ".join(missing),
                kind=kind,
                required=", ".join(required),
                optional=", ".join(optional),
                found=", ".join(header) or "no columns",
            )
        )
    ignored = tuple(name for name in header if name and name not in used)
    identity = (
        not mapping.columns
        and not mapping.constants
        and not mapping.derived
        and not mapping.skip_rows_without
        and not mapping.only_rows_where
        and all(name in fields for name in provided if name in header)
        and provided <= set(header)
    )
    return BoundMapping(
        tuple(getters),
        ignored,
        mapping.skip_rows_without,
        identity,
        tuple(mapping.only_rows_where.items()),
    )


def _column_getter(column: str, default: str | None) -> Getter:
    if default is None:
        return lambda row: row.get(column)

    def get(row: Mapping[str, str | None]) -> str | None:
        value = row.get(column)
        return value if value is not None and value.strip() else default

    return get


def _constant_getter(value: str) -> Getter:
    return lambda row: value


def _derived_getter(spec: Any, mapping: MappingFile, need: Callable[[str], None], used: set[str]) -> Getter:
    if isinstance(spec, str):
        parts = TEMPLATE_FIELD.split(spec)  # literal, column, literal, column, …
        columns = parts[1::2]
        for column in columns:
            need(column)
            used.add(column)

        def render(row: Mapping[str, str | None]) -> str | None:
            values = [(row.get(column) or "").strip() for column in columns]
            if not any(values):
                return None
            out = []
            for index, literal in enumerate(parts[0::2]):
                out.append(literal)
                if index < len(values):
                    out.append(values[index])
            return "".join(out)

        return render
    start, end = (str(column) for column in spec["days_between"])
    need(start)
    need(end)
    used.update((start, end))
    date_format = mapping.date_format

    def days(row: Mapping[str, str | None]) -> str | None:
        try:
            first, last = ((row.get(column) or "").strip() for column in (start, end))
            if date_format:
                delta = datetime.strptime(last, date_format) - datetime.strptime(first, date_format)
            else:
                delta = datetime.fromisoformat(last) - datetime.fromisoformat(first)
        except ValueError:
            return f"{row.get(start)!s}..{row.get(end)!s}"  # the integer check then reports both cells
        return str(delta.days)

    return days
