"""Company names, e-mail addresses and phone numbers for synthetic customers, built from word lists.

No external data: each language has a few dozen surnames and trade words, combined by a
language-specific pattern ("Transports Dupont SAS", "Müller Logistik GmbH", "上海华通贸易有限公司").
Every word carries an ASCII slug so that e-mail domains stay valid. Domains use the reserved
``.example`` top-level domain (RFC 2606) so that a demo can never e-mail a real company.
Everything is vectorised with pyarrow: one pass per language, not per customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class LanguageWords:
    """Words for one language: (display, slug) pairs, legal suffixes and the mailbox names used for invoices."""

    surnames: tuple[tuple[str, str], ...]
    trades: tuple[tuple[str, str], ...]
    suffixes: tuple[str, ...]
    mailboxes: tuple[str, ...]
    trade_first: bool  # "Transports Dupont" (fr, es, it) rather than "Dupont Transports" (en, de)
    separator: str = " "


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """``"Dupont:dupont Müller:mueller"`` → pairs; a word without ``:slug`` is its own slug (lower-cased)."""
    pairs = []
    for item in text.split():
        display, _, slug = item.partition(":")
        pairs.append((display.replace("_", " "), slug or display.lower()))
    return tuple(pairs)


WORDS: dict[str, LanguageWords] = {
    "en": LanguageWords(
        surnames=_pairs(
            "Ashford Barrett Carlisle Dalton Ellison Fairfax Granger Hartley Irving Jensen Kendall Langley "
            "Mercer Norwood Oakley Pemberton Quincy Radcliffe Sterling Thornton Underwood Vance Whitmore "
            "Yardley Bradshaw Hollis Prescott Wexford"
        ),
        trades=_pairs(
            "Logistics Engineering Foods Supplies Consulting Packaging Electrics Builders Textiles Media "
            "Pharma Marine Analytics Hardware Printing Freight Components Interiors Ventures Systems"
        ),
        suffixes=("Ltd", "Limited", "Inc.", "LLC", "plc", "& Co."),
        mailboxes=("accounts", "ap", "billing", "finance", "payables"),
        trade_first=False,
    ),
    "fr": LanguageWords(
        surnames=_pairs(
            "Dupont Lefèvre:lefevre Moreau Girard Bonnet Mercier Fontaine Chevalier Rousseau Blanchard "
            "Garnier Faure Lemaire Perrin Marchand Duval Gauthier Brunet Roussel Vasseur Lacroix Caron "
            "Picard Benoît:benoit Renaud Colin Aubert Barbier"
        ),
        trades=_pairs(
            "Transports Bâtiment:batiment Distribution Imprimerie Boulangeries Conseil Menuiserie "
            "Électricité:electricite Emballages Logistique Négoce:negoce Froid_Industriel:froid "
            "Matériaux:materiaux Services Métallerie:metallerie Agencement Chimie Textiles Informatique "
            "Maintenance"
        ),
        suffixes=("SAS", "SARL", "SA", "et Fils", "Frères", "SNC"),
        mailboxes=("compta", "comptabilite", "factures", "fournisseurs", "finance"),
        trade_first=True,
    ),
    "de": LanguageWords(
        surnames=_pairs(
            "Müller:mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer:schaefer "
            "Koch Bauer Richter Klein Wolf Schröder:schroeder Neumann Schwarz Zimmermann Braun Krüger:krueger "
            "Hofmann Hartmann Lange Werner Krause Lehmann"
        ),
        trades=_pairs(
            "Logistik Maschinenbau Elektrotechnik Bau Handel Verpackung Metallbau Feinkost Druckerei "
            "Haustechnik Spedition Software Werkzeugbau Kunststoffe Medizintechnik Baustoffe Automation "
            "Holzbau Anlagenbau Textil"
        ),
        suffixes=("GmbH", "AG", "KG", "GmbH & Co. KG", "OHG", "e.K."),
        mailboxes=("buchhaltung", "rechnungswesen", "kreditoren", "finanzen", "rechnungen"),
        trade_first=False,
    ),
    "es": LanguageWords(
        surnames=_pairs(
            "García:garcia Fernández:fernandez González:gonzalez Rodríguez:rodriguez López:lopez Martínez:martinez "
            "Sánchez:sanchez Pérez:perez Gómez:gomez Martín:martin Jiménez:jimenez Ruiz Hernández:hernandez Díaz:diaz "
            "Moreno Álvarez:alvarez Romero Alonso Gutiérrez:gutierrez Navarro Torres Domínguez:dominguez "
            "Vázquez:vazquez Ramos Gil Serrano Blanco Molina"
        ),
        trades=_pairs(
            "Construcciones Transportes Distribuciones Suministros Ingeniería:ingenieria Alimentación:alimentacion "
            "Envases Instalaciones Gráficas:graficas Comercial Maquinaria Servicios Climatización:climatizacion "
            "Aceites Cerámicas:ceramicas Logística:logistica Reformas Textil Electricidad Conservas"
        ),
        suffixes=("S.L.", "S.A.", "S.L.U.", "y Asociados", "Hermanos"),
        mailboxes=("contabilidad", "facturas", "administracion", "proveedores", "pagos"),
        trade_first=True,
    ),
    "it": LanguageWords(
        surnames=_pairs(
            "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti De_Luca:deluca "
            "Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani Rinaldi Caruso Ferrara "
            "Galli"
        ),
        trades=_pairs(
            "Trasporti Costruzioni Arredamenti Meccanica Alimentari Imballaggi Tessile Impianti Ceramiche "
            "Forniture Elettronica Edilizia Logistica Grafiche Serramenti Distribuzione Carpenteria Oleifici "
            "Sistemi Ingegneria"
        ),
        suffixes=("S.r.l.", "S.p.A.", "S.n.c.", "& Figli", "S.a.s."),
        mailboxes=("amministrazione", "contabilita", "fatture", "fornitori", "pagamenti"),
        trade_first=True,
    ),
    "zh-hans": LanguageWords(
        surnames=_pairs(
            "上海:shanghai 北京:beijing 深圳:shenzhen 广州:guangzhou 杭州:hangzhou 苏州:suzhou 南京:nanjing "
            "宁波:ningbo 天津:tianjin 成都:chengdu 武汉:wuhan 厦门:xiamen 青岛:qingdao 无锡:wuxi 东莞:dongguan "
            "重庆:chongqing"
        ),
        trades=_pairs(
            "华通贸易:huatong 恒信电子:hengxin 鑫达物流:xinda 宏远机械:hongyuan 金鼎包装:jinding "
            "瑞丰纺织:ruifeng 东方化工:dongfang 长城建材:changcheng 新华印务:xinhua 天成科技:tiancheng "
            "永安食品:yongan 嘉禾医疗:jiahe 海联船务:hailian 中信五金:zhongxin 广源汽配:guangyuan "
            "博达软件:boda 顺泰家具:shuntai 汇丰塑料:huifeng 利华陶瓷:lihua 盛世照明:shengshi"
        ),
        suffixes=("有限公司", "股份有限公司", "实业有限公司", "集团有限公司"),
        mailboxes=("caiwu", "finance", "ap", "accounts"),
        trade_first=False,
        separator="",
    ),
}

# Phone number prefix and count of random digits after it, per country: all valid E.164 numbers
# (checked by the tests with phonenumbers); fictional ranges where the country has one.
PHONE_PATTERNS: dict[str, tuple[str, int]] = {
    "FR": ("+331", 8),
    "DE": ("+4930", 8),
    "GB": ("+4420794", 5),
    "US": ("+1212555", 4),
    "IE": ("+3531", 7),
    "ES": ("+3491", 7),
    "IT": ("+3906", 8),
    "CN": ("+86106", 7),  # Beijing 6xxxxxxx: +8610 1… and 8… include unassigned ranges
    "CA": ("+1514555", 4),
    "MX": ("+5255", 8),
    "CH": ("+4122", 7),
}


def _take(values: list[str], index: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(index))


def company_names(
    rng: np.random.Generator, language_codes: np.ndarray, languages: tuple[str, ...]
) -> tuple[pa.Array, pa.Array]:
    """A company name and an e-mail address per customer (``language_codes`` index ``languages``)."""
    n = len(language_codes)
    name_parts = np.empty(n, dtype=object)
    email_parts = np.empty(n, dtype=object)
    for code, language in enumerate(languages):
        rows = np.flatnonzero(language_codes == code)
        if rows.size == 0:
            continue
        words = WORDS.get(language, WORDS["en"])
        k = rows.size
        surname = rng.integers(0, len(words.surnames), k)
        trade = rng.integers(0, len(words.trades), k)
        suffix = rng.integers(0, len(words.suffixes), k)
        mailbox = rng.integers(0, len(words.mailboxes), k)
        surnames = _take([w for w, _ in words.surnames], surname)
        trades = _take([w for w, _ in words.trades], trade)
        suffixes = _take(list(words.suffixes), suffix)
        first, second = (trades, surnames) if words.trade_first else (surnames, trades)
        name = pc.binary_join_element_wise(first, second, words.separator)
        name = pc.binary_join_element_wise(name, suffixes, words.separator)
        slug = pc.binary_join_element_wise(
            _take([s for _, s in words.surnames], surname), _take([s for _, s in words.trades], trade), "-"
        )
        mailboxes = _take(list(words.mailboxes), mailbox)
        email = pc.binary_join_element_wise(mailboxes, pc.binary_join_element_wise(slug, "example", "."), "@")
        name_parts[rows] = np.asarray(name.to_numpy(zero_copy_only=False), dtype=object)
        email_parts[rows] = np.asarray(email.to_numpy(zero_copy_only=False), dtype=object)
    return pa.array(name_parts, pa.string()), pa.array(email_parts, pa.string())


def phone_numbers(rng: np.random.Generator, countries: np.ndarray) -> pa.Array:
    """An E.164 phone number per customer, in the customer's country (``countries`` holds ISO codes)."""
    phones = np.empty(len(countries), dtype=object)
    for country, (prefix, digits) in PHONE_PATTERNS.items():
        rows = np.flatnonzero(countries == country)
        if rows.size == 0:
            continue
        numbers = rng.integers(10 ** (digits - 1), 10**digits, rows.size)
        phones[rows] = np.char.add(prefix, numbers.astype(str)).astype(object)
    return pa.array(phones, pa.string())
