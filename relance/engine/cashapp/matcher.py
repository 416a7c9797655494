"""The matcher: each bank credit line scored against open items, with the reasons in words.

For a line it gathers **evidence** — references found in the remittance (exact after
normalisation, or one slip away), who paid (an IBAN learned from applied payments, the payer's
name against customers and their parents) — and builds **candidates**: the referenced items when
their open amounts make up the payment (1:1, 1:N), one referenced item paid in part (N:1), the
referenced items and the rest made up of the customer's other items, an over or short payment with
its residual, and, without any reference, the customer's items whose open amounts make up the
amount. Each candidate's confidence is a sum of points on a log-odds scale (one point, one reason)
read through the logistic function. The line is **applied** when the best candidate reaches
``Thresholds.auto_apply`` *and* leads the next by ``Thresholds.margin`` (a wrong automatic match
is worse than none), **suggested** above ``Thresholds.suggest``, otherwise **unmatched**.

Batch: ``Matcher`` builds its indexes once (reference key → items, customer → items, amount →
items, names and initials → customers, IBAN → customers) and keeps each item's remaining open
amount, so lines applied earlier in a batch are not paid twice. Everything per line is bounded
(tokens, customers in view, items in a combination), so a batch is linear in its lines.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from relance.engine.cashapp import payers as payer_rules
from relance.engine.cashapp import references as refs
from relance.engine.cashapp.amounts import CENT, Tolerance, cents, combinations
from relance.engine.cashapp.lines import (
    APPLIED,
    SUGGESTED,
    UNMATCHED,
    Allocation,
    BankLineData,
    Candidate,
    KnownPattern,
    KnownPayer,
    MatchResult,
    OpenItem,
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """``auto_apply``: the confidence from which a line is applied without a person, provided the
    best candidate leads the second by ``margin``; ``suggest``: from which candidates are shown."""

    auto_apply: float = 0.95
    suggest: float = 0.25
    margin: float = 0.10


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """What the matcher may forgive and how far it searches.

    ``tolerance``: an amount this close to the open amount pays it (the residual is still
    reported: writing it off, a deduction or leaving it open is the app's policy).
    ``combination_items`` / ``combination_size``: the subset sum looks at most at this many of a
    customer's items (referenced first, then the oldest due) and combinations of at most this
    size. ``max_candidates``: candidates kept per line."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    tolerance: Tolerance = field(default_factory=lambda: Tolerance(absolute=Decimal("1.00")))
    combination_items: int = 20
    combination_size: int = 6
    max_candidates: int = 5
    min_reference_length: int = 4
    customers_in_view: int = 4


# Points on the log-odds scale. The prior says a line and an item have nothing to do with each
# other; every point needs a reason.
PRIOR = -4.0
REF_ALL_EXACT = 6.0
REF_FUZZY = 4.8
REF_FUZZY_AMBIGUOUS = 3.0
REF_OTHER_PREFIX = 3.0
AMOUNT_EXACT = 3.0
AMOUNT_TOLERANCE = 2.2
AMOUNT_PARTIAL = 1.0
AMOUNT_REST_COMBINED = 2.5
AMOUNT_OVERPAID = -3.0
AMOUNT_SHORT = -1.0
UNREFERENCED_PART = -1.5
CHANCE_FREE = 3.0
AMOUNT_ONLY_MANY = -1.0
PAYER_IBAN = 3.0
PAYER_IBAN_OTHER = -4.0
PAYER_NAME = 2.0
PAYER_NAME_CLOSE = 1.5
PAYER_INITIALS = 1.0
PAYER_INITIALS_SHARED = 0.3
PAYER_PARENT_OFFSET = -0.5
PAYER_WORD = 0.5
PAYER_PATTERN = 2.0  # a reference pattern a person said this customer writes (learned)
REF_AGREEING = 0.6
REF_AGREEING_MAX = 2.0
SHARED_WORD_CUSTOMERS = 3

NAME_CLOSE = 90.0
MAX_FUZZY_TOKENS = 12
MAX_REASONED_ITEMS = 5
_FAR = date.max


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _iban_key(iban: str) -> str:
    return refs.compact(iban)


@dataclass(slots=True)
class _Hit:
    strength: float  # REF_ALL_EXACT, REF_FUZZY or REF_FUZZY_AMBIGUOUS
    reason: str


@dataclass(slots=True)
class _PayerSign:
    points: float
    reason: str


@dataclass(slots=True)
class _Draft:
    customer_id: int
    allocations: list[tuple[int, Decimal]]  # (item index, amount)
    amount_points: float
    amount_reason: str
    residual: Decimal = Decimal("0")
    shortfall: Decimal = Decimal("0")
    extra: list[tuple[float, str]] = field(default_factory=list)


class Matcher:
    """Indexes over open items and known payers; ``match`` scores one line, ``apply`` records an
    applied result (remaining open amounts go down), ``learn`` adds a payer account."""

    def __init__(
        self,
        open_items: Iterable[OpenItem],
        known_payers: Iterable[KnownPayer] = (),
        policy: MatchPolicy | None = None,
        known_patterns: Iterable[KnownPattern] = (),
    ) -> None:
        self.policy = policy or MatchPolicy()
        self.patterns: dict[str, set[int]] = defaultdict(set)
        for known in known_patterns:
            self.patterns[known.pattern].add(known.customer_id)
        self.items: list[OpenItem] = list(open_items)
        self.remaining: list[Decimal] = [item.open_amount for item in self.items]
        self.position: dict[int, int] = {}
        self.by_key: dict[str, list[int]] = defaultdict(list)
        self.by_customer: dict[int, list[int]] = defaultdict(list)
        self.by_amount: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.children: dict[int, set[int]] = defaultdict(set)
        self.customer_name: dict[int, str] = {}
        self.customer_normal: dict[int, str] = {}
        self.by_name: dict[str, set[int]] = defaultdict(set)
        self.by_initials: dict[str, set[int]] = defaultdict(set)
        self.by_word: dict[str, set[int]] = defaultdict(set)
        self.payers: dict[str, set[int]] = defaultdict(set)
        self._keys_cache: dict[int, tuple[list[str], list[int]]] = {}
        names_seen: dict[int, str] = {}
        for index, item in enumerate(self.items):
            self.position[item.invoice_id] = index
            for kind, reference in self._references(item):
                for key in self._lookup_keys(reference):
                    self.by_key[key].append(index * 4 + kind)
            self.by_customer[item.customer_id].append(index)
            self.by_amount[(item.currency, cents(item.open_amount))].append(index)
            if item.customer_id not in names_seen:
                names_seen[item.customer_id] = item.customer_name
            if item.parent_id is not None:
                self.children[item.parent_id].add(item.customer_id)
                if item.parent_name and item.parent_id not in names_seen:
                    names_seen[item.parent_id] = item.parent_name
        for customer_id, name in names_seen.items():
            normal = payer_rules.normalise_name(name)
            self.customer_name[customer_id] = name
            self.customer_normal[customer_id] = normal
            self.by_name[normal].add(customer_id)
            for initials in payer_rules.initials(name):
                self.by_initials[initials].add(customer_id)
            for word in set(normal.split()):
                self.by_word[word].add(customer_id)
        for payer in known_payers:
            self.learn(payer.account_iban, payer.customer_id)
        lengths: dict[int, int] = defaultdict(int)
        for item in self.items[:: max(1, len(self.items) // 5000)]:
            for _kind, reference in self._references(item):
                size = len(refs.compact(reference))
                if size >= 8:
                    lengths[size] += 1
        self.window_lengths: list[int] = sorted(lengths, key=lambda n: -lengths[n])[:6]

    @staticmethod
    def _references(item: OpenItem) -> list[tuple[int, str]]:
        found = [(refs.KIND_INVOICE, item.invoice_ref)]
        found.extend((refs.KIND_OTHER, other) for other in item.references if other)
        if item.po_number:
            found.append((refs.KIND_PO, item.po_number))
        return found

    def _lookup_keys(self, reference: str) -> list[str]:
        """The keys a reference is found by: its key, or, when that is shorter than
        ``min_reference_length`` ("INV-000015" → "15"), its short forms (written with the prefix
        or the leading zeros: ``refs.short_forms``)."""
        key = refs.reference_key(reference)
        if len(key) >= self.policy.min_reference_length:
            return [key]
        return refs.short_forms(reference, self.policy.min_reference_length)

    def learn(self, account_iban: str, customer_id: int) -> bool:
        """Remember that this account paid this customer (an applied or accepted payment); True
        when it is new (what ``forget`` may take back)."""
        key = _iban_key(account_iban)
        if not key or customer_id in self.payers.get(key, ()):
            return False
        self.payers[key].add(customer_id)
        return True

    def forget(self, account_iban: str, customer_id: int) -> None:
        """Take back a ``learn`` that returned True (a payment that was not written after all)."""
        key = _iban_key(account_iban)
        owners = self.payers.get(key)
        if owners is not None:
            owners.discard(customer_id)
            if not owners:
                del self.payers[key]

    def apply(self, candidate: Candidate) -> None:
        """Record a candidate as applied: its items' remaining open amounts go down."""
        for allocation in candidate.allocations:
            index = self.position[allocation.invoice_id]
            self.remaining[index] -= allocation.amount

    def unapply(self, candidate: Candidate) -> None:
        """Take back an ``apply`` (a batch applied ahead of its write, then refused)."""
        for allocation in candidate.allocations:
            index = self.position[allocation.invoice_id]
            self.remaining[index] += allocation.amount

    # --- evidence -------------------------------------------------------------------------------

    def _payer_signs(self, line: BankLineData) -> dict[int, _PayerSign]:
        signs: dict[int, _PayerSign] = {}

        def offer(customer_id: int, sign: _PayerSign) -> None:
            if customer_id not in signs or signs[customer_id].points < sign.points:
                signs[customer_id] = sign

        iban = _iban_key(line.counterparty_iban)
        if iban and iban in self.payers:
            owners = self.payers[iban]
            for customer_id in owners:
                if len(owners) == 1:
                    offer(customer_id, _PayerSign(PAYER_IBAN, "the payer's IBAN paid this customer before"))
                else:
                    offer(
                        customer_id,
                        _PayerSign(
                            PAYER_IBAN / 2,
                            f"the payer's IBAN paid this customer and {len(owners) - 1} other(s)",
                        ),
                    )
        if self.patterns:
            for pattern in refs.reference_patterns(line.remittance_unstructured, line.remittance_structured):
                owners = self.patterns.get(pattern, set())
                if len(owners) == 1:  # a pattern two customers write says nothing
                    (customer_id,) = owners
                    offer(
                        customer_id,
                        _PayerSign(
                            PAYER_PATTERN,
                            f"the remittance text has a reference shaped {pattern}, "
                            "which a person said this customer writes",
                        ),
                    )
        if line.counterparty_name.strip():
            normal = payer_rules.normalise_name(line.counterparty_name)
            for customer_id in self.by_name.get(normal, ()):
                offer(
                    customer_id,
                    _PayerSign(
                        PAYER_NAME, f"the payer's name is the customer's ({self.customer_name[customer_id]})"
                    ),
                )
            near: set[int] = set()
            for word in normal.split():
                owners_of_word = self.by_word.get(word, ())
                if len(owners_of_word) <= 50:
                    near.update(owners_of_word)
            for customer_id in near:
                name = self.customer_name[customer_id]
                score = payer_rules.name_similarity(normal, self.customer_normal[customer_id])
                if NAME_CLOSE <= score < 100:
                    offer(
                        customer_id,
                        _PayerSign(
                            PAYER_NAME_CLOSE,
                            f"the payer's name is close to the customer's ({name}, {score:.0f} %)",
                        ),
                    )
            for word in normal.split():
                owners_of_word = self.by_word.get(word, ())
                if len(word) >= 3 and not word.isdigit() and len(owners_of_word) <= SHARED_WORD_CUSTOMERS:
                    for customer_id in owners_of_word:
                        offer(
                            customer_id,
                            _PayerSign(
                                PAYER_WORD,
                                f"the payer's name shares the word {word!r} with the customer's "
                                f"({self.customer_name[customer_id]})",
                            ),
                        )
            initials = payer_rules.payer_initials(line.counterparty_name)
            owners_of_initials = self.by_initials.get(initials, set()) if initials else set()
            for customer_id in owners_of_initials:
                shared = len(owners_of_initials) > 1
                offer(
                    customer_id,
                    _PayerSign(
                        PAYER_INITIALS_SHARED if shared else PAYER_INITIALS,
                        f"the payer's name starts with the customer's initials {initials.upper()}"
                        + (f" (shared by {len(owners_of_initials)} customers)" if shared else "")
                        + f" ({self.customer_name[customer_id]})",
                    ),
                )
        for parent_id, sign in list(signs.items()):
            for child in self.children.get(parent_id, ()):
                offer(
                    child,
                    _PayerSign(
                        sign.points + PAYER_PARENT_OFFSET,
                        f"the payer is the parent {self.customer_name.get(parent_id, parent_id)}: {sign.reason}",
                    ),
                )
        return signs

    def _customer_keys(self, customer_id: int) -> tuple[list[str], list[int]]:
        cached = self._keys_cache.get(customer_id)
        if cached is None:
            keys: list[str] = []
            codes: list[int] = []
            for index in self.by_customer.get(customer_id, ()):
                for kind, reference in self._references(self.items[index]):
                    # The key, and the folded form with its prefix and zeros: "INV00000000003683"
                    # (a 1 dropped) is one slip from INV100000000003683 only with its zeros.
                    for form in {refs.reference_key(reference), refs.folded(reference)}:
                        if len(form) >= refs.FUZZY_MIN_LENGTH:
                            keys.append(form)
                            codes.append(index * 4 + kind)
            cached = (keys, codes)
            self._keys_cache[customer_id] = cached
        return cached

    def _reference_of(self, index: int, kind: int, key: str) -> str:
        for k, reference in self._references(self.items[index]):
            if k == kind and (
                key in (refs.reference_key(reference), refs.folded(reference))
                or refs.is_short_form(key)
                and key in self._lookup_keys(reference)
            ):
                return reference
        return self.items[index].invoice_ref

    def _open(self, index: int, currency: str) -> bool:
        return self.remaining[index] > 0 and self.items[index].currency == currency

    # --- candidates -----------------------------------------------------------------------------

    def match(self, line: BankLineData) -> MatchResult:
        """Score one line against the open items (``apply`` it yourself when you apply it;
        ``match_lines`` does)."""
        if not line.is_credit:
            return MatchResult(bank_ref=line.bank_ref, status=UNMATCHED)
        policy = self.policy
        currency = line.currency
        tokens = refs.tokens(
            line.remittance_unstructured,
            line.remittance_structured,
            min_length=policy.min_reference_length,
        )
        hits: dict[int, _Hit] = {}
        matched_keys: set[str] = set()
        for token in tokens:
            if self._exact_hits(token, token.key, currency, hits, run_together=False):
                matched_keys.add(token.key)
        # A token longer than any reference may be several run together: read it window by window.
        longest = max(self.window_lengths, default=0) + 2
        long_tokens = [
            t
            for t in tokens
            if t.key not in matched_keys
            and (len(refs.compact(t.text)) > longest or refs.has_digit_run(t.text))
        ]
        for token in long_tokens:
            for window in refs.windows(token.text, self.window_lengths):
                self._exact_hits(
                    refs.Token(window, refs.reference_key(window)), None, currency, hits, run_together=True
                )
        signs = self._payer_signs(line)
        in_view = self._in_view(hits, signs)
        result = self._decide(line, self._score(line, self._drafts(line, hits, signs, in_view), hits, signs))
        if result.status == APPLIED:
            return result
        # References one slip away, within the customers in view.
        queries: list[tuple[str, str]] = []
        for t in tokens:
            if t.key not in matched_keys and t.source in {"text", "joined"} and not refs.is_short_form(t.key):
                queries.extend((t.text.strip(), form) for form in {t.key, refs.folded(t.text)})
        queries = queries[: 2 * MAX_FUZZY_TOKENS]
        for token in long_tokens:
            lengths = sorted({n + d for n in self.window_lengths for d in (-1, 0, 1)})
            queries.extend((w, refs.reference_key(w)) for w in refs.windows(token.text, lengths))
        queries = [(text, key) for text, key in queries if len(key) >= refs.FUZZY_MIN_LENGTH]
        if not queries:
            return result
        before = len(hits)
        for customer_id in in_view:
            self._fuzzy_hits(customer_id, queries, currency, hits)
        if len(hits) == before:
            return result
        in_view = self._in_view(hits, signs)
        drafts = self._drafts(line, hits, signs, in_view)
        candidates = self._score(line, drafts, hits, signs)
        return self._decide(line, candidates)

    def _exact_hits(
        self, token: refs.Token, key: str | None, currency: str, hits: dict[int, _Hit], *, run_together: bool
    ) -> bool:
        codes = self.by_key.get(token.key)
        if not codes:
            return False
        for code in codes:
            index, kind = divmod(code, 4)
            if not self._open(index, currency):
                continue
            reference = self._reference_of(index, kind, token.key)
            note = "run together with other text" if run_together else refs.forgiven(token, reference)
            strength = REF_ALL_EXACT
            written_prefix, reference_prefix = refs.prefix(token.text), refs.prefix(reference)
            if (
                token.source in {"text", "joined"}
                and written_prefix
                and reference_prefix
                and not written_prefix.startswith(reference_prefix)
                and not reference_prefix.startswith(written_prefix)
                # "and INV-001304": a short word joined before the prefix is no other prefix
                and not written_prefix.endswith(reference_prefix)
            ):
                # "INV-883006" written, "ORD-883006" referenced: the number agrees, the kind not.
                strength = REF_OTHER_PREFIX
                note = f"written with the prefix {written_prefix}"
            where = (
                "in the structured reference" if token.source == "structured" else "in the remittance text"
            )
            reason = f"the {refs.KIND_WORDS[kind]} {reference} is {where}" + (f" ({note})" if note else "")
            if index not in hits or hits[index].strength < strength:
                hits[index] = _Hit(strength, reason)
        return True

    def _in_view(self, hits: dict[int, _Hit], signs: dict[int, _PayerSign]) -> list[int]:
        """The customers looked at: those referenced, then the payer's by strength (bounded)."""
        in_view: list[int] = []
        for index in sorted(hits, key=lambda i: -hits[i].strength):
            customer_id = self.items[index].customer_id
            if customer_id not in in_view:
                in_view.append(customer_id)
        in_view = in_view[: self.policy.customers_in_view]
        for customer_id, _sign in sorted(signs.items(), key=lambda kv: -kv[1].points):
            if customer_id not in in_view and len(in_view) < 2 * self.policy.customers_in_view:
                in_view.append(customer_id)
        return in_view

    def _fuzzy_hits(
        self, customer_id: int, queries: list[tuple[str, str]], currency: str, hits: dict[int, _Hit]
    ) -> None:
        keys, codes = self._customer_keys(customer_id)
        if not keys:
            return
        distances = process.cdist(
            [key for _, key in queries], keys, scorer=OSA.distance, score_cutoff=2, dtype=np.int32
        )
        for q in np.nonzero((distances <= 2).any(axis=1))[0]:
            text, query_key = queries[int(q)]
            row = distances[int(q)]
            close: dict[int, tuple[int, int, str]] = {}  # item → (distance, kind, key)
            for position in np.nonzero(row <= 2)[0]:
                key = keys[int(position)]
                distance = refs.fuzzy_distance(query_key, key)
                index, kind = divmod(codes[int(position)], 4)
                if distance is None or not self._open(index, currency):
                    continue
                if index not in close or close[index][0] > distance:
                    close[index] = (distance, kind, key)
            if not close:
                continue
            nearest = min(distance for distance, _, _ in close.values())
            at_nearest = [index for index, (distance, _, _) in close.items() if distance == nearest]
            ambiguous = len(at_nearest) > 1
            for index in at_nearest:
                if index in hits and hits[index].strength >= REF_FUZZY:
                    continue
                _, kind, key = close[index]
                strength = REF_FUZZY_AMBIGUOUS if ambiguous else REF_FUZZY - (nearest - 1) * 1.5
                reference = self._reference_of(index, kind, key)
                slips = "one slip" if nearest == 1 else f"{nearest} slips"
                reason = (
                    f"the remittance text has {text}, {slips} from the {refs.KIND_WORDS[kind]} {reference}"
                    + (f" (as close to {len(at_nearest) - 1} other invoice(s))" if ambiguous else "")
                )
                if index not in hits or hits[index].strength < strength:
                    hits[index] = _Hit(strength, reason)

    def _drafts(
        self, line: BankLineData, hits: dict[int, _Hit], signs: dict[int, _PayerSign], in_view: list[int]
    ) -> list[_Draft]:
        policy = self.policy
        amount = line.amount
        target = cents(amount)
        allowance = cents(policy.tolerance.allowance(amount))
        drafts: list[_Draft] = []
        referenced_by_customer: dict[int, list[int]] = defaultdict(list)
        for index in sorted(hits, key=lambda i: (-hits[i].strength, i)):
            referenced_by_customer[self.items[index].customer_id].append(index)
        for customer_id in in_view:
            referenced = referenced_by_customer.get(customer_id, [])[: policy.combination_items]
            if referenced:
                drafts.extend(self._referenced_drafts(line, customer_id, referenced, target, allowance))
            elif customer_id in signs:
                drafts.extend(self._amount_drafts(line, customer_id, target, allowance))
        if not drafts:
            for index in self.by_amount.get((line.currency, target), ())[:3]:
                if self.remaining[index] == amount:
                    drafts.append(
                        _Draft(
                            self.items[index].customer_id,
                            [(index, amount)],
                            AMOUNT_EXACT,
                            f"the amount equals the open amount of {self.items[index].invoice_ref}",
                        )
                    )
        return drafts

    def _full(
        self, customer_id: int, indexes: Sequence[int], amount: Decimal, reason: str, points: float
    ) -> _Draft:
        """Allocate the items' remaining amounts in full, the last shortened when the payment is
        less (a deduction within tolerance): allocations never exceed the payment."""
        allocations: list[tuple[int, Decimal]] = []
        left = amount
        ordered = sorted(
            indexes, key=lambda i: (self.items[i].due_date or self.items[i].issue_date or _FAR, i)
        )
        total = sum((self.remaining[i] for i in ordered), Decimal("0"))
        for index in ordered:
            part = min(self.remaining[index], left)
            if part > 0:
                allocations.append((index, part))
                left -= part
        return _Draft(
            customer_id,
            allocations,
            points,
            reason,
            residual=left,
            shortfall=max(total - amount, Decimal("0")),
        )

    def _describe_total(self, indexes: Sequence[int], amount: Decimal, currency: str) -> tuple[float, str]:
        total = sum((self.remaining[i] for i in indexes), Decimal("0"))
        what = (
            f"the open amount of {self.items[indexes[0]].invoice_ref}"
            if len(indexes) == 1
            else f"the open amounts of {len(indexes)} invoices"
        )
        if total == amount:
            return AMOUNT_EXACT, f"the amount equals {what}"
        difference = amount - total
        side = "more" if difference > 0 else "less"
        allowance = self.policy.tolerance.allowance(total)
        closeness = float(abs(difference) / allowance) if allowance else 1.0
        return (
            AMOUNT_TOLERANCE - min(closeness, 1.0),
            f"the amount is {_money(abs(difference), currency)} {side} than {what} (within the tolerance)",
        )

    def _referenced_drafts(
        self, line: BankLineData, customer_id: int, referenced: list[int], target: int, allowance: int
    ) -> list[_Draft]:
        policy = self.policy
        amount = line.amount
        currency = line.currency
        drafts: list[_Draft] = []
        amounts = [cents(self.remaining[i]) for i in referenced]
        # The referenced items are few (bounded by combination_items): any number of them may make
        # up the payment.
        for combo in combinations(amounts, target, allowance, max_size=len(referenced), max_solutions=3):
            chosen = [referenced[i] for i in combo]
            points, reason = self._describe_total(chosen, amount, currency)
            drafts.append(self._full(customer_id, chosen, amount, reason, points))
        if drafts and len(drafts[0].allocations) == len(referenced):
            return drafts
        total = sum(amounts)
        if target > total + allowance:
            # Overpaid against the references: the rest may be the customer's other items.
            rest = target - total
            others = self._others(customer_id, line.currency, exclude=set(referenced))
            other_amounts = [cents(self.remaining[i]) for i in others]
            for combo in combinations(
                other_amounts, rest, allowance, max_size=policy.combination_size, max_solutions=2
            ):
                chosen = referenced + [others[i] for i in combo]
                _points, reason = self._describe_total(chosen, amount, currency)
                combined = self._chance_points(chosen, len(others), target, AMOUNT_REST_COMBINED)
                reason = (
                    f"{reason}: {len(referenced)} referenced and {len(combo)} more of the customer's whose "
                    "open amounts make up the rest"
                )
                drafts.append(self._full(customer_id, chosen, amount, reason, combined))
            over = Decimal(target - total) * CENT
            drafts.append(
                self._full(
                    customer_id,
                    referenced,
                    amount,
                    f"the payment is {_money(over, currency)} more than the open amount of the referenced "
                    "invoices (overpaid: the rest is left unapplied)",
                    AMOUNT_OVERPAID,
                )
            )
        for index in referenced:
            if cents(self.remaining[index]) > target + allowance:
                open_amount = self.remaining[index]
                drafts.append(
                    _Draft(
                        customer_id,
                        [(index, amount)],
                        AMOUNT_PARTIAL,
                        f"a partial payment: {_money(amount, currency)} of the {_money(open_amount, currency)} "
                        f"open on {self.items[index].invoice_ref}",
                        shortfall=open_amount - amount,
                    )
                )
        if (
            len(referenced) > 1
            and target < total - allowance
            and not any(len(d.allocations) > 1 for d in drafts)
        ):
            short = Decimal(total - target) * CENT
            drafts.append(
                self._full(
                    customer_id,
                    referenced,
                    amount,
                    f"the payment is {_money(short, currency)} less than the open amount of the "
                    f"{len(referenced)} referenced invoices (short payment)",
                    AMOUNT_SHORT,
                )
            )
        return drafts

    def _others(self, customer_id: int, currency: str, exclude: set[int]) -> list[int]:
        tolerance = self.policy.tolerance
        # Dust (what a deduction left, under the tolerance) is not guessed into a combination.
        open_items = [
            i
            for i in self.by_customer.get(customer_id, ())
            if i not in exclude
            and self._open(i, currency)
            and self.remaining[i] > tolerance.allowance(self.items[i].open_amount)
        ]
        open_items.sort(key=lambda i: (self.items[i].due_date or self.items[i].issue_date or _FAR, i))
        return open_items[: self.policy.combination_items]

    def _chance_points(self, chosen: Sequence[int], considered: int, target: int, ceiling: float) -> float:
        """Points for a combination found by searching: fewer the likelier it is by chance. The
        expected number of chance fits is the subsets searched times the width of the fit
        (±|difference| cents) over the amount; a fit expected less than e**-3 times scores."""
        total = sum(cents(self.remaining[i]) for i in chosen)
        difference = abs(total - target)
        size = min(self.policy.combination_size, considered)
        subsets = sum(math.comb(considered, k) for k in range(1, size + 1))
        chance = subsets * (2 * difference + 1) / max(target, 1)
        return max(0.0, min(ceiling, -math.log(max(chance, 1e-12)) - CHANCE_FREE))

    def _amount_drafts(
        self, line: BankLineData, customer_id: int, target: int, allowance: int
    ) -> list[_Draft]:
        policy = self.policy
        amount = line.amount
        singles = [
            i
            for i in self.by_customer.get(customer_id, ())
            if self._open(i, line.currency) and abs(cents(self.remaining[i]) - target) <= allowance
        ]
        drafts: list[_Draft] = []
        for index in singles[:3]:
            points, reason = self._describe_total([index], amount, line.currency)
            drafts.append(self._full(customer_id, [index], amount, reason + " (no reference quoted)", points))
        if drafts:
            return drafts
        others = self._others(customer_id, line.currency, exclude=set())
        amounts = [cents(self.remaining[i]) for i in others]
        for combo in combinations(
            amounts, target, allowance, max_size=policy.combination_size, max_solutions=3
        ):
            chosen = [others[i] for i in combo]
            _points, reason = self._describe_total(chosen, amount, line.currency)
            points = self._chance_points(chosen, len(others), target, AMOUNT_EXACT)
            drafts.append(
                self._full(
                    customer_id, chosen, amount, reason + " (no reference quoted)", points + AMOUNT_ONLY_MANY
                )
            )
        return drafts

    # --- scoring and the decision ---------------------------------------------------------------

    def _score(
        self, line: BankLineData, drafts: list[_Draft], hits: dict[int, _Hit], signs: dict[int, _PayerSign]
    ) -> list[Candidate]:
        best: dict[frozenset[int], tuple[float, _Draft, list[str]]] = {}
        iban = _iban_key(line.counterparty_iban)
        iban_owners = self.payers.get(iban, set()) if iban else set()
        for draft in drafts:
            z = PRIOR
            reasons: list[str] = []
            indexes = [index for index, _ in draft.allocations]
            referenced = [i for i in indexes if i in hits]
            if referenced:
                strength = min(hits[i].strength for i in referenced)
                # Several references agreeing on one customer's items say more than one.
                z += strength + min(REF_AGREEING * (len(referenced) - 1), REF_AGREEING_MAX)
                for index in referenced[:MAX_REASONED_ITEMS]:
                    reasons.append(hits[index].reason)
                if len(referenced) > MAX_REASONED_ITEMS:
                    reasons.append(f"and {len(referenced) - MAX_REASONED_ITEMS} more referenced invoices")
                unreferenced = len(indexes) - len(referenced)
                if unreferenced:
                    z += UNREFERENCED_PART
            else:
                reasons.append("no reference to these invoices in the remittance")
            z += draft.amount_points
            reasons.append(draft.amount_reason)
            sign = signs.get(draft.customer_id)
            if sign is not None:
                z += sign.points
                reasons.append(sign.reason)
            elif iban_owners and draft.customer_id not in iban_owners:
                z += PAYER_IBAN_OTHER
                reasons.append("the payer's IBAN paid another customer before")
            for points, reason in draft.extra:
                z += points
                reasons.append(reason)
            key = frozenset(indexes)
            if key not in best or best[key][0] < z:
                best[key] = (z, draft, reasons)
        # Candidates are rival explanations of one payment: each one's confidence is its share of
        # the odds, "none of them" counting e**0. Two close candidates share it: neither applies.
        total = 1.0 + sum(math.exp(min(z, 50.0)) for z, _, _ in best.values())
        candidates: list[Candidate] = []
        for z, draft, reasons in sorted(best.values(), key=lambda entry: -entry[0]):
            confidence = math.exp(min(z, 50.0)) / total
            alone = _sigmoid(z)
            if alone - confidence > 0.05:
                reasons = [*reasons, f"other candidates share the confidence (alone: {alone:.2f})"]
            candidates.append(
                Candidate(
                    allocations=tuple(
                        Allocation(self.items[i].invoice_id, part) for i, part in draft.allocations
                    ),
                    customer_id=draft.customer_id,
                    confidence=round(confidence, 4),
                    reasons=tuple(reasons),
                    residual=draft.residual,
                    shortfall=draft.shortfall,
                )
            )
        return candidates[: self.policy.max_candidates]

    def _decide(self, line: BankLineData, candidates: list[Candidate]) -> MatchResult:
        thresholds = self.policy.thresholds
        if not candidates or candidates[0].confidence < thresholds.suggest:
            return MatchResult(bank_ref=line.bank_ref, status=UNMATCHED, candidates=tuple(candidates))
        top = candidates[0]
        runner_up = candidates[1].confidence if len(candidates) > 1 else 0.0
        if top.confidence >= thresholds.auto_apply and top.confidence - runner_up >= thresholds.margin:
            return MatchResult(
                bank_ref=line.bank_ref, status=APPLIED, candidates=tuple(candidates), chosen=top
            )
        if top.confidence >= thresholds.auto_apply:
            close = Candidate(
                allocations=top.allocations,
                customer_id=top.customer_id,
                confidence=top.confidence,
                reasons=(*top.reasons, f"not applied: another candidate is close ({runner_up:.2f})"),
                residual=top.residual,
                shortfall=top.shortfall,
            )
            candidates = [close, *candidates[1:]]
        return MatchResult(bank_ref=line.bank_ref, status=SUGGESTED, candidates=tuple(candidates))


def match_lines(
    lines: Iterable[BankLineData],
    open_items: Iterable[OpenItem],
    known_payers: Iterable[KnownPayer] = (),
    policy: MatchPolicy | None = None,
) -> list[MatchResult]:
    """One result per line, in order. A line applied reduces the open amounts the next lines see,
    so no item is paid twice within a batch."""
    matcher = Matcher(open_items, known_payers, policy)
    results: list[MatchResult] = []
    for line in lines:
        result = matcher.match(line)
        if result.chosen is not None:
            matcher.apply(result.chosen)
        results.append(result)
    return results
