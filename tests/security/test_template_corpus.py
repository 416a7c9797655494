"""Issue 12, finding 3: templates that tried to exhaust CPU or memory (tests/security/corpus/templates).

Each payload must be refused with a ``TemplateError`` that says which budget it hit; none may
crash (RecursionError, MemoryError → HTTP 500) or run for long. Nothing here is timed: a payload
that escaped its budget would take seconds to minutes or exhaust memory, and the test would not
finish in any reasonable time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relance.comms import rendering
from relance.comms.rendering import TemplateError, check_template, render_template

CORPUS = Path(__file__).parent / "corpus" / "templates"

VALUE = "builds a value larger than 1000000 characters"
BUFFER = "rendered text exceeds|characters of values in all"
EXPECTED = {
    "batch_fill.j2": VALUE,
    "concat_tilde_growth.j2": VALUE,
    "concat_tilde_many.j2": VALUE,
    "deep_compare.j2": VALUE,
    "filter_block_growth.j2": BUFFER,
    "fromkeys_sharing.j2": VALUE,
    "int_squaring.j2": r"number is too large \(more than 4096 bits\)",
    "int_squaring_loop.j2": VALUE,
    "internals_attr_filter.j2": "No filter named 'attr'",
    "internals_class.j2": "unsafe operation refused",
    "internals_format.j2": "unsafe operation refused",
    "internals_globals.j2": "unsafe operation refused",
    "join_growth.j2": VALUE,
    "join_separator_growth.j2": VALUE,
    "list_concat_growth.j2": VALUE,
    "list_literal_nesting.j2": VALUE,
    "long_expression_chain.j2": "nests too deeply",
    "macro_buffer_growth.j2": BUFFER,
    "macro_fanout.j2": "loop iterations and calls",
    "macro_recursion.j2": "recurses too deeply|loop iterations",
    "map_replace_growth.j2": "characters of values in all",
    "money_exponent.j2": "out of range",
    "nested_blocks.j2": "nests too deeply",
    "nested_brackets.j2": "nests too deeply",
    "nested_lists.j2": "nests too deeply",
    "nested_loops.j2": "loop iterations",
    "nested_not.j2": "nests too deeply",
    "number_exponent.j2": "out of range",
    "power.j2": "power is too large",
    "range_huge.j2": r"range\(\) of 1000000000000 items",
    "replace_growth.j2": VALUE,
    "set_block_growth.j2": BUFFER,
    "slice_churn.j2": "characters of values in all",
    "str_method_growth.j2": "unsafe operation refused",
    "string_growth.j2": VALUE,
    "string_repeat.j2": VALUE,
    "sum_of_lists.j2": VALUE,
    "sum_of_lists_small.j2": "sum adds numbers",
    "tilde_recursion_growth.j2": VALUE,
    "translate_growth.j2": "unsafe operation refused",
}


@pytest.fixture(autouse=True)
def deterministic_budgets(monkeypatch):
    """On a loaded machine the 2 s clock could stop a payload before its count or size budget does;
    the clock has its own test (tests/comms/test_rendering.py::test_time_budget)."""
    monkeypatch.setattr(rendering, "TIME_BUDGET_SECONDS", 60.0)


def test_every_payload_of_the_corpus_has_an_expectation():
    assert sorted(path.name for path in CORPUS.glob("*.j2")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
def test_payload_is_refused_with_the_budget_it_hit(name, html):
    source = (CORPUS / name).read_text()
    with pytest.raises(TemplateError) as caught:  # noqa: PT012  (the check or the render refuses it)
        check_template(source, name=name, html=html)
        render_template(source, {}, name=name, html=html)
    assert caught.value.template == name
    assert re.search(EXPECTED[name], caught.value.message), caught.value.message


@pytest.mark.parametrize(
    "source",
    [
        "{% set s = 'ab' %}{{ (s ~ s ~ s)|length }}",
        "{{ ['a', 'b']|join(', ') }}",
        "{{ [1, 2, 3]|string }}",
        "{{ (2 ** 64) * (2 ** 64) }}",
        "{% for i in range(100) %}{{ i ~ ',' }}{% endfor %}",
        "{% macro row(x) %}<{{ x }}>{% endmacro %}{% for i in range(3) %}{{ row(i) }}{% endfor %}",
        "{% set captured %}{% for i in range(10) %}x{% endfor %}{% endset %}{{ captured }}",
        "{{ 'abcdef'[1:3] }}{{ [1, 2, 3]|sum }}{{ {'a': 1}|tojson }}",
        "{{ ((((((1 + 2)))))) * 3 }}",
    ],
)
def test_ordinary_templates_are_not_affected(source):
    assert render_template(source, {}, name="ordinary", html=False)


@pytest.mark.django_db
def test_the_preview_page_answers_a_refused_template_with_its_error_not_a_500(signed_in):
    """Issue 12: 100 nested brackets in the preview's HTML body gave HTTP 500."""
    client, customer = signed_in
    response = client.post(
        f"/comms/preview/?entity={customer.entity.name}&customer={customer.external_ref}&key=overdue_friendly",
        {"subject": "Reminder", "body_text": (CORPUS / "nested_brackets.j2").read_text(), "body_html": ""},
    )
    assert response.status_code == 200
    assert "nests too deeply" in response.content.decode()
