"""No timing assumptions in tests: property tests run without Hypothesis's 200 ms deadline (issue 13)."""

from hypothesis import given, settings
from hypothesis import strategies as st


def test_the_default_profile_has_no_deadline():
    assert settings.default.deadline is None


@given(st.integers())
def test_a_property_test_without_its_own_settings_inherits_it(value):
    assert settings().deadline is None
