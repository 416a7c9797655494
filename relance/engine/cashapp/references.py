"""References in remittance text: normalised, found, checked and compared.

A customer quotes ``INV-2024-0012`` as ``inv 2024/0012``, ``2024-0012``, ``20240O12`` (an O for a
0) or ``RF11INV20240012`` (the ISO 11649 reference Relance prints). All of them reduce to one
**key**: letters and digits only, the leading letters (the prefix: INV, FA, PO…) and leading zeros
dropped, and the OCR look-alikes folded (O→0, I/L→1, S→5, B→8, Z→2). Items are indexed by key; a
remittance token is looked up by key, and what had to be forgiven to get there is said in words.

A token that matches no key exactly is compared, within a customer already in view, by optimal
string alignment distance (rapidfuzz): one edit (a digit dropped, added, changed or two swapped)
for a long enough reference.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA
from stdnum import iso11649
from stdnum.ch import esr

from relance.core.payment_refs import QR_BODY_LENGTH

_SLIPS = {"O": "0", "Q": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2"}
_FOLD = str.maketrans(_SLIPS)
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")
_PREFIX = re.compile(r"^[A-Z]+(?=[0-9OQILSBZ]*[0-9])")
# Tokens: runs of letters, digits and in-reference separators (- . _ /); a prefix word standing
# alone ("INV 2024-0012", "PO 4711") is joined to the token after it.
_TOKEN = re.compile(r"[0-9A-Za-z](?:[0-9A-Za-z]|[-._/](?=[0-9A-Za-z]))*")
_QR_RUN = re.compile(r"(?<![0-9])(?:[0-9] ?){26}[0-9](?![0-9])")
_PARTS = re.compile(r"[A-Za-z]{0,4}[0-9]+")  # "7507592439NO" → "7507592439"
_DIGIT_RUN = re.compile(r"[0-9]{16,}")
WINDOW_MIN = 8
_RF = re.compile(r"^RF[0-9]{2}[0-9A-Z]{1,21}$")

KIND_INVOICE = 0
KIND_OTHER = 1
KIND_PO = 2
KIND_WORDS = {KIND_INVOICE: "invoice reference", KIND_OTHER: "reference", KIND_PO: "purchase order"}

MAX_TOKENS = 60
"""Remittance tokens considered per line (a long advice is cut here: the matcher stays bounded)."""


def compact(text: str) -> str:
    """Upper case, letters and digits only."""
    return _NOT_ALNUM.sub("", text.upper())


def reference_key(text: str) -> str:
    """The key a reference is indexed and looked up by (see the module docstring)."""
    body = compact(text)
    stripped = _PREFIX.sub("", body)
    return stripped.translate(_FOLD).lstrip("0")


def prefix(text: str) -> str:
    """The letters a reference starts with ("INV-2024-0012" → "INV"; "" without)."""
    body = compact(text)
    return body[: len(body) - len(_PREFIX.sub("", body))]


def folded(text: str) -> str:
    """Letters and digits with the OCR look-alikes folded, prefix and zeros kept (for distances)."""
    return compact(text).translate(_FOLD)


SHORT_MARK = ":"
"""Separates a short key's prefix from its number; never in a key (keys are letters and digits)."""


def short_forms(reference: str, min_length: int) -> list[str]:
    """The keys a reference whose key is shorter than ``min_length`` is looked up by: its prefix
    and number (``INV-000015`` → ``INV:15``, found as "INV-000015", "INV000015", "inv 15") and its
    number with the leading zeros as printed (``:000015``, found as "000015"), each only when the
    written form is ``min_length`` long. A bare "15" has neither: a short number in free text is
    not a reference, a short reference written in full is."""
    body = compact(reference)
    key = reference_key(body)
    if not key or len(key) >= min_length or len(body) < min_length:
        return []
    written_prefix = prefix(body)
    number = body[len(written_prefix) :].translate(_FOLD)
    forms = [f"{written_prefix}{SHORT_MARK}{key}"] if written_prefix else []
    if len(number) >= min_length:
        forms.append(f"{SHORT_MARK}{number}")
    return forms


def is_short_form(key: str) -> bool:
    """Whether ``key`` is one of ``short_forms`` (never compared by distance: one edit in a short
    number is the next invoice)."""
    return SHORT_MARK in key


@dataclass(frozen=True, slots=True)
class Token:
    """A candidate reference in the remittance: as written, its key, and where it came from."""

    text: str
    key: str
    source: str = "text"  # "text", "joined" (two pieces read as one), "rf", "qr", "structured"


def _rf_body(token: str) -> str | None:
    if _RF.match(token) and iso11649.is_valid(token):
        return token[4:]
    return None


def tokens(unstructured: str, structured: str = "", *, min_length: int = 4) -> list[Token]:
    """The candidate references in a line's remittance: each token, a lone prefix joined to the
    next token, two neighbours joined (a reference split by a space), valid RF references reduced
    to their body and 27-digit QR references to theirs. Keys shorter than ``min_length`` are
    dropped (a "12" would match too much), unless the token is written with its prefix or its
    leading zeros: then its key is its short form (``short_forms``: "INV-000015" → ``INV:15``)."""
    found: list[Token] = []
    seen: set[tuple[str, str]] = set()

    def add(text: str, source: str) -> None:
        comp = compact(text)
        written = comp
        if comp.startswith("RF") and (body := _rf_body(comp)) is not None:
            written = body
            key = reference_key(body)
            source = "rf"
        elif len(comp) == QR_BODY_LENGTH + 1 and comp.isdigit() and esr.is_valid(comp):
            key = comp[:-1].lstrip("0")
            source = "qr"
        elif source != "structured" and not any(char.isdigit() for char in comp):
            return  # a word, not a reference ("items" would fold to 1TEM5)
        else:
            key = reference_key(comp)
        if len(key) < min_length and source != "qr":
            forms = short_forms(written, min_length)
            key = forms[0] if forms else ""
        if key and (len(key) >= min_length or is_short_form(key)) and (key, source) not in seen:
            seen.add((key, source))
            found.append(Token(text=text, key=key, source=source))
        if source in {"text", "joined"}:
            parts = _PARTS.findall(comp)
            if parts != [comp]:
                for part in parts:
                    if part != comp:
                        add(part, source)

    if structured.strip():
        add(structured.strip(), "structured")
    for match in _QR_RUN.finditer(unstructured):
        add(match.group(0), "qr")
    pieces = [m.group(0) for m in _TOKEN.finditer(unstructured)][:MAX_TOKENS]
    for index, piece in enumerate(pieces):
        add(piece, "text")
        if index + 1 < len(pieces):
            after = pieces[index + 1]
            if piece.isalpha() and len(piece) <= 4:
                add(f"{piece} {after}", "text")
            elif any(c.isdigit() for c in piece) and any(c.isdigit() for c in after):
                add(f"{piece} {after}", "joined")
    return found


def has_digit_run(text: str) -> bool:
    """Whether ``text`` has a run of digits long enough to be references run together."""
    return _DIGIT_RUN.search(compact(text)) is not None


def windows(text: str, lengths: Sequence[int]) -> list[str]:
    """Every run of ``lengths`` characters of a long token: references written together without a
    separator ("9127475830105281154520…") are found one window at a time.
    Only runs of digits are cut (a window of "INV1000000040011742" would find "INV10000"), and only
    into windows of ``WINDOW_MIN`` digits or more (a short window matches by chance)."""
    found: list[str] = []
    for run in _DIGIT_RUN.findall(compact(text)):
        for n in lengths:
            if n >= WINDOW_MIN:
                found.extend(run[start : start + n] for start in range(len(run) - n + 1))
    return found


def _slip_words(written: str, reference: str) -> list[str]:
    """The OCR look-alikes read in ``written`` where ``reference`` has the digit ("one O read as 0")."""
    counts: dict[tuple[str, str], int] = {}
    if len(written) == len(reference):
        for w, r in zip(written, reference, strict=True):
            if w != r and _SLIPS.get(w) == r or w != r and _SLIPS.get(r) == w:
                counts[(w, r)] = counts.get((w, r), 0) + 1
    numbers = {1: "one", 2: "two", 3: "three"}
    return [
        f"{numbers.get(n, str(n))} {w} read as {r}"
        for (w, r), n in sorted(counts.items(), key=lambda kv: kv[0])
    ]


def forgiven(token: Token, reference: str) -> str:
    """In words, what was forgiven for ``token`` to match ``reference`` (empty: written exactly)."""
    written = compact(token.text)
    ref = compact(reference)
    if token.source == "rf":
        return "in the RF creditor reference, check digits valid"
    if token.source == "qr":
        return "in the QR reference, check digit valid"
    if written == ref and token.text.strip().upper() == reference.strip().upper():
        return ""
    notes: list[str] = []
    ref_body = _PREFIX.sub("", ref)
    written_body = _PREFIX.sub("", written)
    if ref_body != ref and written_body == written:
        notes.append(f"without the prefix {ref[: len(ref) - len(ref_body)]}")
    zeros = written_body.lstrip("0O") != written_body or ref_body.lstrip("0") != ref_body
    if zeros and len(written_body) != len(ref_body):
        notes.append("leading zeros differ")
    aligned_written = written_body.lstrip("0O")
    aligned_ref = ref_body.lstrip("0")
    notes.extend(_slip_words(aligned_written, aligned_ref))
    if not notes and written != ref or not notes:
        notes.append("other separators")
    if token.source == "joined":
        notes.append("split by a space")
    return ", ".join(notes)


FUZZY_MIN_LENGTH = 6
"""A key shorter than this is never matched by distance: one edit in "4711" is another number."""


def fuzzy_distance(token_key: str, reference_key_: str) -> int | None:
    """The OSA distance between two keys when close enough to be a slip, else None: one edit for a
    key of 6 characters or more, two for 14 or more."""
    shorter = min(len(token_key), len(reference_key_))
    if shorter < FUZZY_MIN_LENGTH or abs(len(token_key) - len(reference_key_)) > 2:
        return None
    cutoff = 2 if shorter >= 14 else 1
    distance = OSA.distance(token_key, reference_key_, score_cutoff=cutoff)
    return distance if distance <= cutoff else None


def validate_rf(reference: str) -> bool:
    """Whether ``reference`` is an ISO 11649 creditor reference with valid check digits."""
    return bool(iso11649.is_valid(reference))


def validate_qr(reference: str) -> bool:
    """Whether ``reference`` is a 27-digit Swiss QR-bill reference with a valid check digit."""
    comp = compact(reference)
    return len(comp) == QR_BODY_LENGTH + 1 and comp.isdigit() and bool(esr.is_valid(comp))


# A reference pattern: a token with at least 3 letters and 3 digits (a payment-run id, the
# customer's own numbering: "ACME-PAY-2026-0017", "KD88123X"), its digits written 9.
_PATTERN_TOKEN = re.compile(r"[0-9A-Z](?:[0-9A-Z]|[-._/](?=[0-9A-Z]))*")
PATTERN_MIN_LETTERS = 3
PATTERN_MIN_DIGITS = 3


def reference_pattern(token: str) -> str | None:
    """The shape of a token a customer may write every time (letters and separators kept, each
    digit as 9), or None for a token too plain to say who wrote it (a word, a bare number)."""
    text = token.upper()
    letters = sum(char.isalpha() for char in text)
    digits = sum(char.isdigit() for char in text)
    if letters < PATTERN_MIN_LETTERS or digits < PATTERN_MIN_DIGITS or len(text) > 64:
        return None
    return re.sub(r"[0-9]", "9", text)


def reference_patterns(*texts: str) -> set[str]:
    """The reference patterns of remittance texts (``reference_pattern`` of each token)."""
    found: set[str] = set()
    for text in texts:
        for token in _PATTERN_TOKEN.findall(text.upper()):
            pattern = reference_pattern(token)
            if pattern:
                found.add(pattern)
    return found
