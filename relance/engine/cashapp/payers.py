"""Who paid: the payer's name compared with customers' names, and their initials.

Names are folded (case, accents, spacing: ``relance.core.text.fold``), punctuation dropped and
legal forms (SAS, SARL, GmbH, Ltd, Inc, S.p.A.…) removed; word order does not count
(rapidfuzz's token-sort ratio). A payer written as initials ("ADL TECH" for Aurora Digital Labs)
is a weaker sign: several customers share initials.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz

from relance.core.text import fold

LEGAL_FORMS = frozenset(
    """
    sa sas sasu sarl eurl sci snc scs sca selarl gmbh ag kg ohg ug ev mbh co kgaa ltd limited plc llp
    llc inc incorporated corp corporation company bv nv vof bvba sprl srl spa sapa snc sl slu sau lda
    ltda oy ab as asa aps kk pvt pte pty bhd sdn sro spzoo zrt kft doo ad ооо 株式会社 有限会社
    """.split()
)
_SPLIT_LEGAL = {
    "s a": "sa",
    "s a s": "sas",
    "s a r l": "sarl",
    "s p a": "spa",
    "s r l": "srl",
    "b v": "bv",
    "n v": "nv",
}
_PUNCT = re.compile(r"[^\w]+")
_SPACES = re.compile(r"\s+")


def _words(name: str) -> list[str]:
    text = fold(name).replace("&", " ")
    text = _PUNCT.sub(" ", text.replace(".", " "))
    text = _SPACES.sub(" ", text).strip()
    padded = f" {text} "
    for spaced, joined in sorted(_SPLIT_LEGAL.items(), key=lambda kv: -len(kv[0])):
        padded = padded.replace(f" {spaced} ", f" {joined} ")
    return padded.split()


@lru_cache(maxsize=65536)
def normalise_name(name: str) -> str:
    """Folded words without punctuation and legal forms, in order ("Dubois & Co. S.A.R.L." →
    "dubois"). A name of only legal forms keeps them."""
    words = _words(name)
    kept = [w for w in words if w not in LEGAL_FORMS and w not in {"and", "et", "und", "y", "e"}]
    return " ".join(kept or words)


def initials(name: str) -> set[str]:
    """The customer's initials as a payer may abbreviate them: of its words without legal forms
    and of all its words ("Patel & Co. Pvt. Ltd." → {"p", "pc", "pcpl"}); at least two letters
    count (one letter says nothing)."""
    words = _words(name)
    kept = [w for w in words if w not in LEGAL_FORMS]
    options = {"".join(w[0] for w in kept), "".join(w[0] for w in words)}
    if len(words) > 1 and words[1] in LEGAL_FORMS:
        options.add(words[0][0] + words[1][0])
    return {o for o in options if len(o) >= 2}


@lru_cache(maxsize=65536)
def payer_initials(payer: str) -> str:
    """The payer name's first word read as initials ("P&C Enterprises" → "pc", "ADL TECH" →
    "adl"); empty unless it is 2 to 5 letters."""
    first = fold(payer).split(" ", 1)[0] if payer.strip() else ""
    letters = "".join(c for c in first if c.isalpha())
    if first.endswith("co.") or "&co" in first:
        letters = letters[:-1] if letters.endswith("o") else letters
    return letters if 2 <= len(letters) <= 5 else ""


def name_similarity(payer: str, customer: str) -> float:
    """0–100: how alike two normalised names are, word order ignored."""
    if not payer or not customer:
        return 0.0
    return float(fuzz.token_sort_ratio(payer, customer))
