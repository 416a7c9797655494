"""Issue 12, finding 10: a strict Content-Security-Policy and the other ASVS L2 headers on every page.
(The browser test, test_browser_csp.py, proves the pages run under it.)"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split("; ")}


def assert_secure_headers(response) -> None:
    csp = directives(response)
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] in ("DENY", "SAMEORIGIN")
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_signed_in_pages_carry_the_headers_and_no_inline_script(signed_in):
    client, customer = signed_in
    for path in (
        "/",
        "/customers/",
        "/invoices/",
        "/w/worklist/",
        f"/w/customers/{customer.pk}/",
        "/w/my-accounts/",
        "/w/disputes/",
        "/api/v1/docs",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_secure_headers(response)
        assert directives(response)["style-src"] == "'self'", path
        assert response["Cache-Control"] == "no-store", path
        html = response.content.decode()
        assert " onchange=" not in html and " onclick=" not in html and "<style" not in html, path
        for script in html.split("<script")[1:]:
            assert " src=" in script.split(">")[0] or 'type="application/json"' in script.split(">")[0], path


def test_the_login_page_and_the_portal_carry_the_headers(client, entity, make_customer):
    from relance.portal.links import link_create, link_path

    assert_secure_headers(client.get("/login/"))
    customer = make_customer("C-2")
    portal = client.get(link_path(link_create(customer=customer, contact=None, days=30)))
    assert portal.status_code == 200
    assert_secure_headers(portal)
    assert "<style" not in portal.content.decode()


def test_the_template_preview_alone_allows_the_messages_inline_styles(signed_in):
    client, customer = signed_in
    response = client.get(
        "/comms/preview/", {"customer": customer.external_ref, "entity": customer.entity.name}
    )
    assert response.status_code == 200
    csp = directives(response)
    assert csp["style-src"] == "'self' 'unsafe-inline'" and csp["script-src"] == "'self'"


def test_brand_stylesheet_takes_only_colours(client):
    css = client.get("/brand.css", {"brand": "#0B5C4A", "accent": "#D9822B"})
    assert css.status_code == 200 and css["Content-Type"] == "text/css"
    assert css.content.decode() == ":root { --brand: #0B5C4A; --accent: #D9822B; }\n"
    injected = client.get("/brand.css", {"brand": "red;}</style><script>", "accent": "#D9822B"})
    assert injected.status_code == 400


def test_check_deploy_requires_the_headers_middleware(settings):
    from relance.common.checks import HEADERS_MIDDLEWARE, security_headers_check

    assert security_headers_check() == []
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != HEADERS_MIDDLEWARE]
    assert [error.id for error in security_headers_check()] == ["relance.E103"]
