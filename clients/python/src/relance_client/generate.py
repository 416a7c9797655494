"""Write ``models.py`` from Relance's OpenAPI document: ``python -m relance_client.generate URL_OR_FILE``.

The test suite runs ``render`` against the schema the app generates and compares it with the
committed ``models.py``: a change to the API that the client does not follow fails the tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# The schemas the client types: the ledger resources, their pages and upsert answers.
MODELS = (
    "CustomerIn", "CustomerOut", "CustomerPage", "CustomerUpserted",
    "ContactIn", "ContactOut", "ContactPage", "ContactUpserted",
    "InvoiceIn", "InvoiceOut", "InvoicePage", "InvoiceUpserted",
    "CreditNoteIn", "CreditNoteOut", "CreditNotePage", "CreditNoteUpserted",
    "AllocationIn", "NestedAllocationOut",
    "PaymentIn", "PaymentOut", "PaymentPage", "PaymentUpserted",
    "OrderIn", "OrderOut", "OrderPage", "OrderUpserted",
    "AllocationOut", "AllocationPage", "UpsertCounts", "ErrorDetail", "ErrorInfo", "ErrorOut",
)  # fmt: skip

HEADER = '''"""Typed shapes of Relance's API v1, generated from /api/v1/openapi.json by relance_client.generate.

Do not edit: regenerate (tests/api/test_client.py fails when this file and the API differ).
Money is a decimal string (never a float); dates are ISO strings.
"""

from __future__ import annotations

from typing import {imports}
'''

SCALARS = {"string": "str", "integer": "int", "boolean": "bool", "number": "str"}


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"].rsplit("/", 1)[1])
    if "anyOf" in schema:
        parts = [_type(part) for part in schema["anyOf"]]
        return " | ".join(dict.fromkeys(parts))
    kind = schema.get("type")
    if kind == "null":
        return "None"
    if kind == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    if kind == "object":
        return "dict[str, Any]"
    if isinstance(kind, str) and kind in SCALARS:
        return SCALARS[kind]
    return "Any"


def render(openapi: dict[str, Any]) -> str:
    schemas = openapi["components"]["schemas"]
    text = ""
    for name in MODELS:
        schema = schemas[name]
        required = set(schema.get("required", []))
        text += f"\n\nclass {name}(TypedDict):\n"
        properties = schema.get("properties", {})
        if not properties:
            text += "    pass\n"
        for field, spec in properties.items():
            kind = _type(spec)
            text += f"    {field}: {kind if field in required else f'NotRequired[{kind}]'}\n"
    names = [
        name
        for name in ("Any", "NotRequired")
        if f"{name}[" in text or f"{name} " in text or f"{name}]" in text
    ]
    return HEADER.format(imports=", ".join([*names, "TypedDict"])) + text


def main() -> None:
    source = sys.argv[1]
    if source.startswith(("http://", "https://")):
        import httpx

        openapi = httpx.get(source, timeout=30).json()
    else:
        openapi = json.loads(Path(source).read_text(encoding="utf-8"))
    Path(__file__).with_name("models.py").write_text(render(openapi), encoding="utf-8")


if __name__ == "__main__":
    main()
