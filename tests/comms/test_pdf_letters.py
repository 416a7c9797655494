"""PDF letters: read the text back, check where the address sits, page sizes and page numbers."""

import base64
import io
from datetime import date
from decimal import Decimal

import pytest
import segno

from relance.comms.pdf import letter_pdf, paper_for
from relance.comms.types import RenderedMessage
from tests.comms.pdf_helpers import image_count, page_size_pt, page_texts, position_of

ADDRESS = "Durand SARL\nService comptabilité\n5 avenue Foch\n69006 Lyon"
A4_PT, LETTER_PT = (595.3, 841.9), (612.0, 792.0)


@pytest.fixture
def branded(entity):
    entity.legal_name = "ACME SAS"
    entity.address = "12 rue de la Paix\n75002 Paris"
    entity.iban = "FR7630006000011234567890189"
    entity.bic = "AGRIFRPP"
    entity.vat_id = "FR12345678901"
    entity.save()
    return entity


def message(*, language="en", html="<p>Please pay invoice INV-1 of €1,234.50.</p>", **fields):
    fields.setdefault("amount_due", Decimal("1234.50"))
    fields.setdefault("currency", "EUR")
    fields.setdefault("rf_reference", "RF18539007547034")
    return RenderedMessage(
        template_key="final",
        channel="letter",
        language=language,
        subject="Final notice",
        text="",
        html=html,
        **fields,
    )


def test_a4_letter_has_the_address_in_the_din_5008_window(branded):
    pdf = letter_pdf(message(), entity=branded, recipient_address=ADDRESS, letter_date=date(2024, 10, 1))
    assert page_size_pt(pdf) == A4_PT
    text = page_texts(pdf)[0]
    for line in ADDRESS.splitlines():
        assert line in text
    for line in ("Durand SARL", "69006 Lyon"):
        x, y = position_of(pdf, line)
        assert 20 <= x <= 105 and 45 <= y <= 90, (line, x, y)  # DIN 5008 B field: 20 mm left, 45–90 mm
    assert "Paris, October 1, 2024" in text
    assert "Final notice" in text and "Please pay invoice INV-1 of €1,234.50." in text
    assert "ACME SAS" in text and "VAT FR12345678901" in text


def test_us_letter_puts_the_address_in_the_number_10_window(branded):
    pdf = letter_pdf(message(), entity=branded, recipient_address=ADDRESS, paper="letter")
    assert page_size_pt(pdf) == LETTER_PT
    x, y = position_of(pdf, "Durand SARL")
    assert 20 <= x <= 30 and 45 <= y <= 75, (x, y)  # 7/8 in from the left, inside the 4.5 × 1.125 in window


def test_remittance_block_has_iban_bic_reference_amount_and_a_qr_code(branded):
    pdf = letter_pdf(message(), entity=branded, recipient_address=ADDRESS)
    text = "\n".join(page_texts(pdf))
    assert "FR76 3000 6000 0112 3456 7890 189" in text
    assert "AGRIFRPP" in text and "RF18 5390 0754 7034" in text
    assert "Amount due €1,234.50" in text
    assert "Scan with your banking" in text and image_count(pdf) == 1  # the SEPA QR code


def test_no_qr_code_for_other_currencies_and_none_twice(branded):
    pdf = letter_pdf(message(currency="USD"), entity=branded, recipient_address=ADDRESS)
    assert "Scan with your banking" not in "\n".join(page_texts(pdf)) and image_count(pdf) == 0
    own_qr = '<img class="epc-qr" src="data:image/png;base64,iVBORw0KGgo=" alt="QR">'
    pdf = letter_pdf(message(html=f"<p>Pay</p>{own_qr}"), entity=branded, recipient_address=ADDRESS)
    assert "Scan with your banking" not in "\n".join(page_texts(pdf))


def test_long_letters_number_their_pages_in_the_letter_language(branded):
    body = "".join(f"<p>Paragraphe {n} : le texte de la relance continue ici.</p>" for n in range(120))
    pdf = letter_pdf(message(language="fr", html=body), entity=branded, recipient_address=ADDRESS)
    texts = page_texts(pdf)
    assert len(texts) >= 3
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} sur {len(texts)}" in text
    assert "Montant dû 1 234,50 €" in texts[-1].replace("\u202f", " ").replace("\xa0", " ")


def test_german_letter_date_and_labels(branded):
    pdf = letter_pdf(
        message(language="de-AT"), entity=branded, recipient_address=ADDRESS, letter_date=date(2025, 3, 5)
    )
    text = page_texts(pdf)[0]
    assert "Paris, 5. März 2025" in text and "Seite 1 von 1" in text and "Zahlungsinformationen" in text


def test_plain_text_body_when_there_is_no_html(branded):
    rendered = RenderedMessage(
        template_key="due",
        channel="letter",
        language="en",
        subject="Reminder",
        text="Hello <b>\n\nSecond paragraph",
    )
    text = page_texts(letter_pdf(rendered, entity=branded, recipient_address=ADDRESS))[0]
    assert "Hello <b>" in text and "Second paragraph" in text


def test_only_inline_images_are_loaded(branded, tmp_path):
    png = io.BytesIO()
    segno.make("x").save(png, kind="png")
    image = tmp_path / "secret.png"
    image.write_bytes(png.getvalue())
    inline = f'<img src="data:image/png;base64,{base64.b64encode(png.getvalue()).decode()}">'
    usd = dict(currency="USD")  # no QR code of our own in the count
    with_inline = letter_pdf(
        message(html=f"<p>x</p>{inline}", **usd), entity=branded, recipient_address=ADDRESS
    )
    with_file = letter_pdf(
        message(html=f'<p>x</p><img src="file://{image}"><img src="http://127.0.0.1:9/x.png">', **usd),
        entity=branded,
        recipient_address=ADDRESS,
    )
    assert image_count(with_inline) == 1
    assert image_count(with_file) == 0


def test_unknown_paper_is_refused(branded):
    with pytest.raises(ValueError, match="paper must be 'A4' or 'letter', found 'A5'"):
        letter_pdf(message(), entity=branded, recipient_address=ADDRESS, paper="A5")


def test_paper_follows_the_country():
    assert (paper_for("US"), paper_for("ca"), paper_for("FR"), paper_for("")) == (
        "letter",
        "letter",
        "A4",
        "A4",
    )


COMPLETE_LETTER = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<style>@page { size: A5; margin: 20mm; @bottom-right { content: "Page " counter(page) " / " counter(pages); } }
.address { position: absolute; top: 25mm; }</style></head>
<body><div class="brand">Own Letterhead Ltd</div><div class="address">Durand SARL<br>69006 Lyon</div>
<h1>Final notice</h1><p>Please pay.</p><img src="http://127.0.0.1:9/tracker.png"></body></html>"""


def test_a_complete_letter_from_its_template_is_printed_as_it_is(branded):
    pdf = letter_pdf(message(html=COMPLETE_LETTER), entity=branded, recipient_address=ADDRESS, paper="letter")
    assert page_size_pt(pdf) == LETTER_PT  # the requested paper wins over the template's
    text = page_texts(pdf)[0]
    assert "Own Letterhead Ltd" in text and "Page 1 / 1" in text
    assert "ACME SAS" not in text and "How to pay" not in text  # not framed a second time
    assert image_count(pdf) == 0  # still no external resources
