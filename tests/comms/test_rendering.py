"""The sandbox: classic server-side template injection payloads, budgets, errors with lines."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relance.comms import rendering
from relance.comms.rendering import TemplateError, format_day, format_money, render_template

SECRET = "super-secret-key-value"


@dataclass(frozen=True)
class Line:
    ref: str
    amount: Decimal


class FakeModel:
    """Stands for a Django model that slipped into a context by mistake."""

    deleted = False

    def delete(self):
        FakeModel.deleted = True

    delete.alters_data = True  # type: ignore[attr-defined]

    def save(self):
        FakeModel.deleted = True

    save.alters_data = True  # type: ignore[attr-defined]


CONTEXT = {
    "language": "en",
    "customer": {"name": "Globex", "ref": "C1"},
    "lines": (Line("INV-1", Decimal("10.50")),),
    "amount": Decimal("1234.5"),
    "day": date(2026, 11, 23),
    "model": FakeModel(),
}


def render(source, html=False, context=None):
    return render_template(source, context or CONTEXT, name="test-template", html=html)


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "{{ config }}",
        "{{ config.items() }}",
        "{{ settings.SECRET_KEY }}",
        "{{ self._TemplateReference__context }}",
        "{{ self.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ lipsum.__globals__ }}",
        "{{ request.application.__globals__.__builtins__.__import__('os') }}",
        "{{ request.environ }}",
        "{{ url_for.__globals__ }}",
        "{{ get_flashed_messages.__globals__ }}",
        "{{ customer.__class__.__base__.__subclasses__() }}",
        "{{ lines[0].__class__ }}",
        "{{ lines[0].__dataclass_fields__ }}",
        "{{ customer._private }}",
        "{{ customer|attr('__class__') }}",
        "{{ ()|attr('__class__')|attr('__base__') }}",
        "{{ amount.__class__.__module__ }}",
        "{{ model.delete() }}",
        "{{ model.save() }}",
        "{% set x = customer.update({'name': 'x'}) %}{{ x }}",
        "{{ lines.append(1) }}",
        "{{ '{0.__class__}'.format(customer) }}",
        "{{ range.__self__ }}",
        "{{ 'a'|safe }}",
    ],
)
def test_ssti_payloads_are_refused(payload):
    FakeModel.deleted = False
    with pytest.raises(TemplateError) as caught:
        render(payload)
    assert SECRET not in str(caught.value)
    assert caught.value.template == "test-template"
    assert FakeModel.deleted is False


def test_settings_are_not_reachable_even_by_name(settings):
    settings.SECRET_KEY = SECRET
    for payload in ("{{ settings }}", "{{ SECRET_KEY }}", "{{ config.SECRET_KEY }}", "{{ self }}"):
        try:
            output = render(payload)
        except TemplateError:
            continue
        assert SECRET not in output


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{% for i in range(10**9) %}x{% endfor %}", r"range\(\) of 1000000000 items"),
        ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", "loop iterations"),
        ("{{ 'x' * 10**9 }}", "larger than"),
        ("{{ 10**100000 }}", "power is too large"),
        ("{{ (10**1000)**1000 }}", "power is too large"),
        ("{% for i in range(10000) %}{{ 'y' * 1000 }}{% endfor %}", "rendered text exceeds"),
        ("{{ ('ab' * 100000)|replace('', 'xxxxxxxxxx') }}", "larger than"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "loop iterations|recurses"),
        ("{{ 'x'.ljust(10**9) }}", "unsafe"),
        ("{{ 'x'.ljust(999999) }}", "unsafe"),
        ("{{ 'x'.zfill(10**9) }}", "unsafe"),
        ("{{ 'x'.format_map({}) }}", "unsafe"),
        ("{{ '{:999999999}'.format(1) }}", "unsafe"),
        ("{{ 'ab'.replace('', 'x' * 999999) }}", "unsafe"),
        ("{{ '%999999999d' % 1 }}", "unsafe"),
        ("{{ range(10000)|join('x' * 999999) }}", "larger than"),
        ("{{ range(10)|slice(10**9) }}", "slice"),
        ("{{ customer.name.center(10**9) }}", "unsafe"),
    ],
)
def test_runaway_templates_stop_with_an_error(payload, message):
    with pytest.raises(TemplateError, match=message):
        render(payload)


def test_time_budget(monkeypatch):
    monkeypatch.setattr(rendering, "TIME_BUDGET_SECONDS", -1.0)
    with pytest.raises(TemplateError, match="of CPU to render"):
        render("{% for i in range(1000) %}{{ i }}{% endfor %}")


def test_syntax_error_names_template_and_line():
    with pytest.raises(TemplateError) as caught:
        render("line one\nline two\n{% if %}\n")
    assert caught.value.line == 3
    assert str(caught.value).startswith("test-template, line 3:")


def test_undefined_variable_names_template_and_line():
    with pytest.raises(TemplateError) as caught:
        render("Hello\n{{ customer.name }}\n{{ no_such_thing }}")
    assert caught.value.line == 3
    assert "no_such_thing" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_html_is_autoescaped_and_text_is_not():
    context = {**CONTEXT, "customer": {"name": "<script>alert(1)</script> & Co"}}
    assert render("{{ customer.name }}", html=True, context=context) == (
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"
    )
    assert render("{{ customer.name }}", html=False, context=context) == "<script>alert(1)</script> & Co"


def test_plain_data_works():
    output = render(
        "{% for line in lines %}{{ line.ref }} {{ line.amount|money('EUR') }}{% endfor %} "
        "{{ customer.name|upper }} {{ day|date('medium') }} {{ amount|number }}"
    )
    assert output == "INV-1 €10.50 GLOBEX Nov 23, 2026 1,234.5"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "€1,234.50"),
        ("fr", "1\u202f234,50\xa0€"),
        ("de", "1.234,50\xa0€"),
        ("es", "1.234,50\xa0€"),
        ("it", "1.234,50\xa0€"),
        ("zh-hans", "€1,234.50"),
    ],
)
def test_money_per_language(language, expected):
    assert format_money(Decimal("1234.5"), "EUR", language) == expected


def test_money_refuses_float_and_keeps_decimal_precision():
    with pytest.raises(TypeError):
        format_money(0.1, "EUR", "en")
    assert format_money(Decimal("0.105"), "EUR", "en") == "€0.11"  # half up, as invoices round
    assert format_money(Decimal("1000"), "JPY", "en") == "¥1,000"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "November 23, 2026"),
        ("fr", "23 novembre 2026"),
        ("de", "23. November 2026"),
        ("es", "23 de noviembre de 2026"),
        ("it", "23 novembre 2026"),
        ("zh-hans", "2026年11月23日"),
    ],
)
def test_dates_per_language(language, expected):
    assert format_day(date(2026, 11, 23), language) == expected


@given(st.text(max_size=80))
def test_any_customer_data_is_escaped_in_html_and_kept_in_text(name):
    from markupsafe import escape

    context = {**CONTEXT, "customer": {"name": name}}
    assert render("{{ customer.name }}", html=True, context=context) == str(escape(name))
    assert render("{{ customer.name }}", html=False, context=context) == name
