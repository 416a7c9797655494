"""Text folded for search: no accents, no case, spacing collapsed."""

import pytest

from relance.core.text import fold, search_text


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Jiménez", "jimenez"),
        ("JIMÉNEZ  Hermanos", "jimenez hermanos"),
        ("Müller GmbH", "muller gmbh"),
        ("Straße", "strasse"),
        ("Œuvre Ørsted Łódź", "oeuvre orsted lodz"),
        ("ﬁnance", "finance"),
        ("C-123", "c-123"),
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded


def test_search_text_joins_the_parts_that_are_not_empty():
    assert search_text("Jiménez SL", "", None, "C-7") == "jimenez sl | c-7"
