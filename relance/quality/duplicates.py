"""Duplicate customers: candidate pairs by blocking, scored with rapidfuzz (ADR 0031).

No Django here: ``candidate_pairs`` takes plain records (the app's ``duplicates_find`` reads
them from the ledger, the benchmark makes a million), so it runs the same in both.

Blocking: two customers are compared only when they share a key — the same normalised name
(legal forms dropped, accents folded, words sorted), one of the name's rare words, a tax id, a
registration id, an IBAN, an e-mail domain that is not a free-mail one, a phone number (E.164)
or a postal address. A key shared by more than ``MAX_BLOCK`` customers says little (a group's
switchboard, a reseller's domain) and makes no pairs. Each pair gets a score 0–100 from the
evidence, combined as independent hints (1 − Π(1 − w)), and its reasons in words.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from relance.core.text import fold

MAX_BLOCK = 30  # a key shared by more customers makes no pairs
MIN_SCORE = 50  # pairs below are not candidates
RARE_WORDS = 2  # each name's rarest words used as keys

# Legal forms and filler words: "ACME S.A.R.L." and "Acme" are one name.
LEGAL_FORMS = frozenset(
    """
    ab ag aps as asa bv bvba cv co company corp corporation cie eg ehf eirl eurl ev gbr gesmbh gie gmbh
    inc incorporated kft kg kgaa ltd ltda limited llc llp lp mbh nv oy oyj ohg plc pte pty sa sab sal
    sarl sas sasu sc sci scop scp scs se sl sll slu snc sp spa sprl srl sro sa ug zoo ks kk
    the and et und of y e
    """.split()
)
# Domains people get free mail at: a shared one says nothing about the company.
FREE_MAIL_DOMAINS = frozenset(
    """
    gmail.com googlemail.com yahoo.com yahoo.fr yahoo.de yahoo.co.uk yahoo.es yahoo.it ymail.com
    hotmail.com hotmail.fr hotmail.de hotmail.co.uk hotmail.es hotmail.it outlook.com outlook.fr
    outlook.de live.com live.fr live.de msn.com icloud.com me.com mac.com aol.com aol.fr gmx.de gmx.net
    gmx.com gmx.at gmx.ch web.de t-online.de freenet.de orange.fr wanadoo.fr free.fr laposte.net sfr.fr
    neuf.fr bbox.fr numericable.fr libero.it virgilio.it tiscali.it alice.it btinternet.com sky.com
    virginmedia.com mail.com protonmail.com proton.me pm.me yandex.ru yandex.com mail.ru qq.com 163.com
    126.com seznam.cz wp.pl o2.pl onet.pl interia.pl telefonica.net terra.es bluewin.ch hispeed.ch
    skynet.be telenet.be ziggo.nl kpnmail.nl hetnet.nl planet.nl home.nl zoho.com fastmail.com
    """.split()
)

_DOTTED = re.compile(r"(?<=\w)[.'’](?=\w)")
_WORD = re.compile(r"[a-z0-9]+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def name_words(name: str) -> list[str]:
    """The words of a company name that identify it: folded, legal forms dropped ("S.A.R.L."
    and "SARL" alike), sorted and unique, so word order does not matter."""
    text = _DOTTED.sub("", fold(name))
    words = {word for word in _WORD.findall(text) if word not in LEGAL_FORMS}
    return sorted(words)


def name_key(name: str) -> str:
    """The normalised name: ``name_words`` joined ("Müller GmbH" and "MULLER" → "muller")."""
    return " ".join(name_words(name))


def compact_id(value: str) -> str:
    """A tax id, registration id or IBAN compared without spaces, dots or dashes, upper case."""
    return "".join(char for char in value.upper() if char.isalnum())


def email_domain(email: str) -> str:
    """The e-mail's domain, lower case; "" for a free-mail domain (shared by strangers)."""
    domain = email.rpartition("@")[2].strip().lower()
    return "" if not domain or domain in FREE_MAIL_DOMAINS else domain


def phone_key(phone: str, country: str = "") -> str:
    """The phone in E.164 (phonenumbers), or "" when it is not a phone number."""
    phone = phone.strip()
    if _E164.fullmatch(phone):
        return phone  # the ledger stores E.164 already: no parse
    if not phone:
        return ""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(phone, country.upper() or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def address_key(address: str) -> str:
    """A postal address compared folded, without punctuation, words sorted; "" when too short to
    mean a place (fewer than three words or no number)."""
    words = sorted(set(_WORD.findall(fold(address))))
    if len(words) < 3 or not any(word.isdigit() for word in words):
        return ""
    return " ".join(words)


@dataclass(frozen=True)
class CustomerFacts:
    """What the matcher knows of one customer (already normalised by ``customer_facts``)."""

    id: int
    ref: str
    name: str
    words: tuple[str, ...]
    parent_id: int | None = None
    tax_id: str = ""
    registration_id: str = ""
    ibans: frozenset[str] = field(default_factory=frozenset)
    domains: frozenset[str] = field(default_factory=frozenset)
    phones: frozenset[str] = field(default_factory=frozenset)
    addresses: frozenset[str] = field(default_factory=frozenset)


def customer_facts(
    *,
    id: int,
    ref: str,
    name: str,
    country: str = "",
    parent_id: int | None = None,
    tax_id: str = "",
    registration_id: str = "",
    ibans: Iterable[str] = (),
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    addresses: Iterable[str] = (),
) -> CustomerFacts:
    """A customer's facts, normalised for blocking and scoring."""
    return CustomerFacts(
        id=id,
        ref=ref,
        name=name,
        words=tuple(name_words(name)),
        parent_id=parent_id,
        tax_id=compact_id(tax_id),
        registration_id=compact_id(registration_id),
        ibans=_keyset(compact_id(value) for value in ibans),
        domains=_keyset(email_domain(value) for value in emails),
        phones=_keyset(phone_key(value, country) for value in phones),
        addresses=_keyset(address_key(value) for value in addresses),
    )


_EMPTY: frozenset[str] = frozenset()


def _keyset(keys: Iterable[str]) -> frozenset[str]:
    """The non-empty keys; the one shared empty set when there are none (an empty frozenset
    costs 216 bytes: four per customer would be most of a million customers' memory)."""
    found = [key for key in keys if key]
    return frozenset(found) if found else _EMPTY


@dataclass(frozen=True)
class CandidatePair:
    """Two customers that may be one: ``low`` has the smaller id."""

    low: CustomerFacts
    high: CustomerFacts
    score: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class BlockingStats:
    """How the blocking went: keys, compared pairs, and the keys too common to make pairs."""

    customers: int
    keys: int
    compared: int
    skipped_blocks: int


# The weight of each piece of evidence: the chance it alone means "same company".
WEIGHTS = {
    "name_same": 0.75,
    "name_close": 0.55,
    "name_alike": 0.3,
    "tax_id": 0.9,
    "registration_id": 0.9,
    "iban": 0.85,
    "phone": 0.5,
    "address": 0.5,
    "domain": 0.45,
}
DIFFERENT_TAX_IDS = 0.25  # both known and different: most likely two companies


def _keys(facts: CustomerFacts, rare: Callable[[tuple[str, ...]], list[str]]) -> list[str]:
    keys = []
    if facts.words:
        keys.append("n:" + " ".join(facts.words))
        keys.extend("w:" + word for word in rare(facts.words))
    if facts.tax_id:
        keys.append("x:" + facts.tax_id)
    if facts.registration_id:
        keys.append("r:" + facts.registration_id)
    keys.extend("i:" + value for value in facts.ibans)
    keys.extend("d:" + value for value in facts.domains)
    keys.extend("p:" + value for value in facts.phones)
    keys.extend("a:" + value for value in facts.addresses)
    return keys


def candidate_pairs(
    customers: Sequence[CustomerFacts],
    *,
    min_score: int = MIN_SCORE,
    max_block: int = MAX_BLOCK,
    excluded: set[tuple[str, str]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[CandidatePair], BlockingStats]:
    """The pairs of ``customers`` scoring at least ``min_score``, highest first, and how the
    blocking went. ``excluded`` holds ref pairs (sorted) never to return ("not a duplicate")."""
    say = progress or (lambda _step: None)
    say("counting words")
    frequency: Counter[str] = Counter()
    for facts in customers:
        frequency.update(facts.words)

    def rare(words: tuple[str, ...]) -> list[str]:
        usable = [word for word in words if len(word) >= 3 and frequency[word] <= max_block]
        usable.sort(key=lambda word: (frequency[word], word))
        return usable[:RARE_WORDS]

    say("blocking")
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, facts in enumerate(customers):
        for key in _keys(facts, rare):
            blocks[key].append(index)
    say("pairing")
    count = len(customers)
    codes: set[int] = set()
    skipped = 0
    for members in blocks.values():
        size = len(members)
        if size < 2:
            continue
        if size > max_block:
            skipped += 1
            continue
        for position, first in enumerate(members):
            for second in members[position + 1 :]:
                if first != second:
                    low, high = (first, second) if first < second else (second, first)
                    codes.add(low * count + high)
    stats = BlockingStats(customers=count, keys=len(blocks), compared=len(codes), skipped_blocks=skipped)
    del blocks
    say(f"scoring {len(codes):,} pairs")
    pairs = score_pairs(customers, sorted(codes), min_score=min_score, excluded=excluded or set())
    pairs.sort(key=lambda pair: (-pair.score, pair.low.id, pair.high.id))
    return pairs, stats


def score_pairs(
    customers: Sequence[CustomerFacts],
    codes: Sequence[int],
    *,
    min_score: int = MIN_SCORE,
    excluded: set[tuple[str, str]],
) -> list[CandidatePair]:
    """Score the pairs ``codes`` (``low * len(customers) + high``); names in one batch with
    rapidfuzz's ``cpdist`` (C, both cores)."""
    from rapidfuzz import fuzz
    from rapidfuzz.process import cpdist

    count = len(customers)
    pairs: list[CandidatePair] = []
    batch = 200_000
    for start in range(0, len(codes), batch):
        chunk = codes[start : start + batch]
        lows = [customers[code // count] for code in chunk]
        highs = [customers[code % count] for code in chunk]
        names = cpdist(
            [" ".join(facts.words) for facts in lows],
            [" ".join(facts.words) for facts in highs],
            scorer=fuzz.ratio,
            workers=-1,
        )
        for low, high, similarity in zip(lows, highs, names.tolist(), strict=True):
            if low.parent_id == high.id or high.parent_id == low.id:
                continue  # a group and its member are two accounts on purpose
            if low.id > high.id:
                low, high = high, low
            if excluded and _ref_pair(low.ref, high.ref) in excluded:
                continue
            score, reasons = pair_score(low, high, similarity)
            if score >= min_score:
                pairs.append(CandidatePair(low, high, score, reasons))
    return pairs


def _ref_pair(first: str, second: str) -> tuple[str, str]:
    return (first, second) if first <= second else (second, first)


def pair_score(low: CustomerFacts, high: CustomerFacts, similarity: float) -> tuple[int, tuple[str, ...]]:
    """The pair's score 0–100 and its reasons in words. ``similarity`` is rapidfuzz's ratio of
    the normalised names (0–100)."""
    weights: list[float] = []
    reasons: list[str] = []
    names = f"“{low.name}” and “{high.name}”"
    if low.words and high.words:
        if similarity >= 99.5:
            weights.append(WEIGHTS["name_same"])
            reasons.append(f"same name once legal forms, accents and word order are set aside: {names}")
        elif similarity >= 88:
            weights.append(WEIGHTS["name_close"])
            reasons.append(f"names {similarity:.0f}% alike: {names}")
        elif similarity >= 75:
            weights.append(WEIGHTS["name_alike"])
            reasons.append(f"names {similarity:.0f}% alike: {names}")
    if low.tax_id and low.tax_id == high.tax_id:
        weights.append(WEIGHTS["tax_id"])
        reasons.append(f"same tax id {low.tax_id}")
    if low.registration_id and low.registration_id == high.registration_id:
        weights.append(WEIGHTS["registration_id"])
        reasons.append(f"same registration id {low.registration_id}")
    for kind, label, left, right in (
        ("iban", "IBAN", low.ibans, high.ibans),
        ("phone", "phone", low.phones, high.phones),
        ("address", "address", low.addresses, high.addresses),
        ("domain", "e-mail domain", low.domains, high.domains),
    ):
        shared = left & right
        if shared:
            weights.append(WEIGHTS[kind])
            reasons.append(f"same {label} {min(shared)}")
    remaining = 1.0
    for weight in weights:
        remaining *= 1 - weight
    chance = 1 - remaining
    if low.tax_id and high.tax_id and low.tax_id != high.tax_id:
        chance *= DIFFERENT_TAX_IDS
        reasons.append(f"but different tax ids {low.tax_id} and {high.tax_id}")
    return round(100 * chance), tuple(reasons)


def all_pairs(customers: Sequence[CustomerFacts], *, min_score: int = MIN_SCORE) -> list[CandidatePair]:
    """Every pair scored (n²/2): the simple approach the benchmark compares blocking with."""
    count = len(customers)
    codes = [low * count + high for low in range(count) for high in range(low + 1, count)]
    pairs = score_pairs(customers, codes, min_score=min_score, excluded=set())
    pairs.sort(key=lambda pair: (-pair.score, pair.low.id, pair.high.id))
    return pairs
