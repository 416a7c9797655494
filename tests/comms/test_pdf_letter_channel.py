"""The letter channel: the PDF is stored with the message and downloadable by the entity's users;
the print-and-post hand-off speaks Lob's documented letters API (mocked with respx)."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
import respx
from django.contrib.auth import get_user_model
from django.urls import include, path

from relance.delivery import letter_views
from relance.delivery.channels.base import PermanentFailure, TemporaryFailure
from relance.delivery.channels.letter import (
    LetterChannel,
    PrintAndPostLetterChannel,
    letter_attachment,
    parse_postal_address,
)
from relance.delivery.models import OutboundMessage
from relance.ledger.models import Contact
from tests.comms.pdf_helpers import page_size_pt, page_texts, position_of

# The download view, mounted as relance/delivery/urls.py will mount it.
app_name = "delivery"
urlpatterns = [
    path("delivery/letters/<int:message_pk>/pdf", letter_views.letter_pdf_download, name="letter_pdf"),
    path("", include("relance.web.urls")),
]

LOB = "https://api.lob.test/v1"
# Lob's documented answer to POST /v1/letters (abridged): the letter object.
LOB_LETTER = {
    "id": "ltr_4868c3b754655f90",
    "object": "letter",
    "description": "final C-7",
    "to": {"id": "adr_d3489cd64c791ab5", "name": "DURAND SARL", "address_country": "FRANCE"},
    "url": "https://lob-assets.com/letters/ltr_4868c3b754655f90.pdf?version=v1&expires=1617680598&signature=x",
    "carrier": "USPS",
    "color": False,
    "extra_service": None,
    "expected_delivery_date": "2024-10-08",
    "date_created": "2024-10-01T10:00:00.000Z",
    "send_date": "2024-10-01T10:05:00.000Z",
    "use_type": "operational",
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def letter(entity, make_customer):
    entity.legal_name = "ACME SAS"
    entity.address = "12 rue de la Paix\n75002 Paris\nFR"
    entity.country = "FR"
    entity.iban = "FR7630006000011234567890189"
    entity.save()
    customer = make_customer("C-7", name="Durand SARL", country="FR", language="fr")
    contact = Contact.objects.create(
        customer=customer, name="Mme Martin", postal_address="5 avenue Foch\n69006 Lyon"
    )
    now = datetime(2024, 10, 1, 8, tzinfo=UTC)
    return OutboundMessage.objects.create(
        idempotency_key="run:1:C-7:final:letter",
        message_id="<run-1-c-7-final-letter@relance>",
        entity=entity,
        customer=customer,
        contact=contact,
        channel="letter",
        template_key="final",
        language="fr",
        recipient=contact.postal_address,
        subject="Mise en demeure",
        body_html="<p>Nous vous mettons en demeure de régler la facture INV-9.</p>",
        rf_reference="RF18539007547034",
        amount_due=Decimal("1234.50"),
        currency="EUR",
        next_attempt_at=now,
        queued_at=now,
    )


def test_letter_channel_stores_the_pdf_once(letter):
    receipt = LetterChannel().send(letter)
    attachment = letter.attachments.get()
    assert receipt.provider == "letter-pdf" and receipt.provider_message_id == f"attachment:{attachment.pk}"
    assert (attachment.filename, attachment.content_type) == (f"letter-{letter.pk}.pdf", "application/pdf")
    content = attachment.file.read()
    assert attachment.size == len(content) and page_size_pt(content) == (595.3, 841.9)
    text = page_texts(content)[0]
    assert "Durand SARL\nMme Martin\n5 avenue Foch\n69006 Lyon" in text
    assert "Nous vous mettons en demeure de régler la facture INV-9." in text and "Page 1 sur 1" in text
    LetterChannel().send(letter)  # a retry reuses the stored letter
    assert letter.attachments.count() == 1


def test_registered_letters_say_so_above_the_address(letter):
    letter.headers = {"registered": True}
    letter.save()
    content = letter_attachment(letter).file.read()
    _, endorsement_y = position_of(content, "LETTRE RECOMMANDÉE")
    _, name_y = position_of(content, "Durand SARL")
    assert endorsement_y < name_y


def test_us_customers_get_us_letter_paper(letter):
    letter.customer.country = "US"
    letter.customer.save()
    assert page_size_pt(letter_attachment(letter).file.read()) == (612.0, 792.0)


def test_a_letter_without_an_address_fails_permanently(letter):
    letter.recipient = "  \n "
    with pytest.raises(PermanentFailure, match="no postal address") as caught:
        LetterChannel().send(letter)
    assert caught.value.invalid_recipient


# --- download ---------------------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_download_needs_a_login_and_the_entity(client, letter):
    LetterChannel().send(letter)
    url = f"/delivery/letters/{letter.pk}/pdf"
    assert client.get(url).status_code == 302  # to the login page
    outsider = get_user_model().objects.create_user("outsider", password="pw")
    client.force_login(outsider)
    assert client.get(url).status_code == 404  # another entity's letter looks like no letter
    boss = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(boss)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "Mise en demeure" in page_texts(b"".join(response.streaming_content))[0]
    assert client.get(f"/delivery/letters/{letter.pk + 1000}/pdf").status_code == 404


@pytest.mark.urls(__name__)
def test_download_of_a_letter_not_yet_rendered_is_404(admin_client, letter):
    assert admin_client.get(f"/delivery/letters/{letter.pk}/pdf").status_code == 404


# --- print and post ---------------------------------------------------------------------------------


@pytest.fixture
def printmail(settings):
    settings.RELANCE_PRINTMAIL_API_KEY = "test_0123456789"
    settings.RELANCE_PRINTMAIL_API_URL = LOB
    return PrintAndPostLetterChannel()


def multipart_fields(request: httpx.Request) -> dict[str, str]:
    """The text parts of a multipart/form-data body, and the file part's name and type."""
    boundary = request.headers["Content-Type"].split("boundary=")[1].encode()
    fields = {}
    for part in request.content.split(b"--" + boundary)[1:-1]:
        head, _, body = part.partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        if b"filename=" in head:
            fields[name] = "PDF" if body.startswith(b"%PDF-") else "?"
            fields[name + ".content_type"] = head.split(b"Content-Type: ")[1].split(b"\r\n")[0].decode()
        else:
            fields[name] = body[:-2].decode()
    return fields


@respx.mock
def test_print_and_post_sends_the_documented_request(letter, printmail):
    route = respx.post(f"{LOB}/letters").mock(return_value=httpx.Response(200, json=LOB_LETTER))
    receipt = printmail.send(letter)
    assert (receipt.provider, receipt.provider_message_id) == ("lob", "ltr_4868c3b754655f90")
    request = route.calls.last.request
    assert (
        request.headers["Authorization"]
        == "Basic " + __import__("base64").b64encode(b"test_0123456789:").decode()
    )
    assert request.headers["Idempotency-Key"] == "run:1:C-7:final:letter"
    fields = multipart_fields(request)
    assert fields["file"] == "PDF" and fields["file.content_type"] == "application/pdf"
    assert {key: fields[key] for key in fields if key.startswith("to[")} == {
        "to[name]": "Durand SARL",
        "to[address_line1]": "Mme Martin",
        "to[address_line2]": "5 avenue Foch",
        "to[address_city]": "Lyon",
        "to[address_zip]": "69006",
        "to[address_country]": "FR",
    }
    assert fields["from[name]"] == "ACME SAS" and fields["from[address_city]"] == "Paris"
    assert fields["color"] == "false" and fields["use_type"] == "operational"
    assert fields["metadata[message_id]"] == "<run-1-c-7-final-letter@relance>"
    assert "extra_service" not in fields
    assert letter.attachments.count() == 1  # the posted PDF is the stored one


@respx.mock
def test_registered_letters_ask_for_registered_mail(letter, printmail):
    route = respx.post(f"{LOB}/letters").mock(
        return_value=httpx.Response(200, json={**LOB_LETTER, "extra_service": "registered"})
    )
    letter.headers = {"registered": True}
    printmail.send(letter)
    assert multipart_fields(route.calls.last.request)["extra_service"] == "registered"


@respx.mock
@pytest.mark.parametrize(
    ("status", "error", "expected", "invalid_recipient"),
    [
        (422, {"message": "address_line1 is required", "status_code": 422}, PermanentFailure, True),
        (422, {"message": "file: too many pages", "status_code": 422}, PermanentFailure, False),
        (429, {"message": "rate limit exceeded", "status_code": 429}, TemporaryFailure, None),
        (500, {"message": "internal error", "status_code": 500}, TemporaryFailure, None),
        (401, {"message": "invalid API key", "status_code": 401}, TemporaryFailure, None),
    ],
)
def test_print_and_post_errors(letter, printmail, status, error, expected, invalid_recipient):
    respx.post(f"{LOB}/letters").mock(return_value=httpx.Response(status, json={"error": error}))
    with pytest.raises(expected, match=error["message"]) as caught:
        printmail.send(letter)
    if invalid_recipient is not None:
        assert caught.value.invalid_recipient is invalid_recipient


@respx.mock
def test_a_timeout_is_retried_under_the_same_idempotency_key(letter, printmail):
    route = respx.post(f"{LOB}/letters").mock(
        side_effect=[httpx.ReadTimeout("no answer"), httpx.Response(200, json=LOB_LETTER)]
    )
    with pytest.raises(TemporaryFailure, match="ReadTimeout"):
        printmail.send(letter)
    assert printmail.send(letter).provider_message_id == "ltr_4868c3b754655f90"
    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    assert keys == {"run:1:C-7:final:letter"}


def test_print_and_post_without_a_key_waits_for_configuration(letter, settings):
    settings.RELANCE_PRINTMAIL_API_KEY = ""
    with pytest.raises(TemporaryFailure, match="set RELANCE_PRINTMAIL_API_KEY"):
        PrintAndPostLetterChannel().send(letter)


def test_an_unreadable_address_is_refused_before_posting(letter, printmail):
    letter.recipient = "Somewhere\nno town here"
    with pytest.raises(PermanentFailure, match="cannot read a street, postcode and town"):
        printmail.send(letter)


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        (
            "Acme Inc\n185 Berry St\nSuite 6100\nSan Francisco, CA 94107",
            "",
            ("185 Berry St", "Suite 6100", "San Francisco", "CA", "94107", "US"),
        ),
        (
            "Müller GmbH\nHauptstr. 5\n10115 Berlin\nGermany",
            "FR",
            ("Hauptstr. 5", "", "Berlin", "", "10115", "DE"),
        ),
        (
            "Smith Ltd\n1 High Street\nLondon\nSW1A 1AA",
            "GB",
            ("1 High Street", "", "London", "", "SW1A 1AA", "GB"),
        ),
        ("Durand\n5 avenue Foch\nF-69006 Lyon", "FR", ("5 avenue Foch", "", "Lyon", "", "69006", "FR")),
    ],
)
def test_parse_postal_address(text, country, expected):
    address = parse_postal_address(text, default_country=country)
    assert address is not None
    assert (
        address.line1,
        address.line2,
        address.city,
        address.state,
        address.postcode,
        address.country,
    ) == expected


def test_request_body_is_json_serialisable(letter, printmail):
    assert json.dumps(printmail.letter_request(letter))
