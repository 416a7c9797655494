"""Fixtures borrowed from the dunning tests (the scenario: policies and a run) and the portal's
(a ledger with a customer, its link and a stranger)."""

from tests.dunning.conftest import scenario  # noqa: F401
from tests.portal.conftest import ledger, link, stranger_link, today, url  # noqa: F401
