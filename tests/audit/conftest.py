"""The same two entities, role users and signed-in clients as the accounts tests."""

from tests.accounts.conftest import _fresh_cache, globex, make_user, signed_in, token_for, two_ledgers

__all__ = ["_fresh_cache", "globex", "make_user", "signed_in", "token_for", "two_ledgers"]
