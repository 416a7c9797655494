"""Security tests: the portal's fixtures (a parent with a child account, a live link) are shared."""

from tests.portal.conftest import _clear_cache, ledger, link, stranger_link, today, url  # noqa: F401
