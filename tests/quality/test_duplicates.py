"""Blocking and scoring of duplicate customers (relance.quality.duplicates, no database)."""

from __future__ import annotations

from relance.quality import duplicates as d


def facts(pk: int, name: str, **fields: object) -> d.CustomerFacts:
    return d.customer_facts(id=pk, ref=f"C{pk}", name=name, **fields)  # type: ignore[arg-type]


def pairs_of(customers: list[d.CustomerFacts], **kwargs: object) -> dict[tuple[str, str], d.CandidatePair]:
    found, _stats = d.candidate_pairs(customers, **kwargs)  # type: ignore[arg-type]
    return {(pair.low.ref, pair.high.ref): pair for pair in found}


def test_names_lose_legal_forms_accents_and_word_order() -> None:
    assert d.name_key("Müller Maschinenbau GmbH") == d.name_key("MULLER MASCHINENBAU")
    assert d.name_key("Société Générale d'Équipement S.A.R.L.") == d.name_key(
        "generale societe dequipement SARL"
    )
    assert d.name_key("ACME Ltd.") == d.name_key("Acme Limited") == d.name_key("The Acme Inc") == "acme"
    assert d.name_key("Trading Acme S.A.") == d.name_key("Acme Trading SA")
    assert d.name_key("Acme Trading") != d.name_key("Acme Logistics")


def test_ids_domains_phones_and_addresses_are_normalised() -> None:
    assert d.compact_id("FR 40 303 265 045") == d.compact_id("fr40-303.265.045") == "FR40303265045"
    assert d.email_domain("Jane@Acme.FR") == "acme.fr"
    assert d.email_domain("someone@gmail.com") == ""  # free mail says nothing
    assert d.phone_key("01 42 68 53 00", "FR") == "+33142685300" == d.phone_key("+33142685300")
    assert d.phone_key("not a phone", "FR") == ""
    assert d.address_key("12, Rue de la Paix, 75002 PARIS") == d.address_key("12 rue de la paix 75002 Paris")
    assert d.address_key("Paris") == ""


def test_blocking_finds_the_known_pairs_with_reasons() -> None:
    customers = [
        facts(1, "Müller Maschinenbau GmbH"),
        facts(2, "MULLER MASCHINENBAU"),  # same name once normalised
        facts(3, "Northwind Traders", tax_id="FR40303265045"),
        facts(4, "Northwind Trading Co", tax_id="FR 40 303 265 045"),  # same tax id, close name
        facts(5, "Blue Harbor SARL", emails=["ap@blueharbor.fr"], phones=["+33142685300"]),
        facts(6, "Blue Harbour", emails=["billing@blueharbor.fr"], phones=["01 42 68 53 00"], country="FR"),
        facts(7, "Zeta Labs", ibans=["FR76 3000 6000 0112 3456 7890 189"]),
        facts(8, "Zeta Laboratories", ibans=["FR7630006000011234567890189"]),
    ]
    found = pairs_of(customers)
    assert set(found) == {("C1", "C2"), ("C3", "C4"), ("C5", "C6"), ("C7", "C8")}
    assert found[("C1", "C2")].score >= 75 and "same name" in found[("C1", "C2")].reasons[0]
    assert "same tax id FR40303265045" in found[("C3", "C4")].reasons
    reasons = " / ".join(found[("C5", "C6")].reasons)
    assert "same phone +33142685300" in reasons and "same e-mail domain blueharbor.fr" in reasons
    assert "same IBAN FR7630006000011234567890189" in found[("C7", "C8")].reasons


def test_obvious_non_pairs_are_not_candidates() -> None:
    customers = [
        facts(1, "Acme Trading", emails=["a@gmail.com"]),
        facts(2, "Zenith Logistics", emails=["b@gmail.com"]),  # free mail only
        facts(3, "Acme Trading", tax_id="FR40303265045"),
        facts(4, "Acme Trading", tax_id="DE123456789"),  # same name, different tax ids
        facts(5, "Orion Bakery", parent_id=6),
        facts(6, "Orion Bakery"),  # a group and its member
    ]
    found = pairs_of(customers)
    assert ("C1", "C2") not in found
    assert ("C3", "C4") not in found  # 75 x 0.25
    assert ("C5", "C6") not in found
    assert ("C1", "C3") in found  # same name, one tax id unknown


def test_a_key_shared_by_too_many_makes_no_pairs_and_excluded_pairs_never_come_back() -> None:
    crowd = [facts(pk, f"Shop {pk} Unique{pk}", phones=["+33142685300"]) for pk in range(1, 41)]
    found, stats = d.candidate_pairs(crowd)
    assert found == [] and stats.skipped_blocks == 1
    pair = [facts(1, "Acme Trading"), facts(2, "ACME TRADING SA")]
    assert pairs_of(pair)
    assert not pairs_of(pair, excluded={("C1", "C2")})


def test_blocking_agrees_with_all_pairs_on_the_pairs_it_can_see() -> None:
    customers = [
        facts(1, "Acme Trading"),
        facts(2, "Acme Tradng"),  # a typo: the rare word "acme" brings them together
        facts(3, "Globex Corporation"),
        facts(4, "Globex"),
        facts(5, "Initech"),
        facts(6, "Umbrella Pharma"),
    ]
    blocked = {(p.low.ref, p.high.ref, p.score) for p in d.candidate_pairs(customers)[0]}
    everything = {(p.low.ref, p.high.ref, p.score) for p in d.all_pairs(customers)}
    assert blocked == everything == {("C1", "C2", 55), ("C3", "C4", 75)}
