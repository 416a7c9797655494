"""``relance token create|list|revoke``: personal API tokens for the REST API."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import IO, Any, cast

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from relance.api import selectors, services
from relance.core.errors import RelanceError

NO_SUCH_USER = "no user named {username!r}: create one with `relance createsuperuser` first"
SECRET_NOTICE = "Store this token now: it is shown only once and cannot be recovered."


class Command(BaseCommand):
    help = "Create, list or revoke personal API tokens (Authorization: Bearer <token>)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = actions.add_parser("create", help="create a token and print its secret once")
        create.add_argument("--user", required=True, metavar="USERNAME", help="the user the token acts as")
        create.add_argument("--name", default="", help="what the token is for, e.g. 'ERP sync'")
        create.add_argument(
            "--expires-in-days",
            type=int,
            default=None,
            metavar="DAYS",
            help="expire after DAYS days (default: never)",
        )
        create.add_argument(
            "--json", action="store_true", help="print JSON (prefix, secret, …) instead of text"
        )
        listing = actions.add_parser("list", help="list tokens (never their secrets)")
        listing.add_argument("--user", default=None, metavar="USERNAME", help="only this user's tokens")
        listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
        revoke = actions.add_parser("revoke", help="revoke a token by its prefix (as shown by list)")
        revoke.add_argument("prefix", help="the token's prefix, e.g. 3f9a1c0b7d2e")
        revoke.add_argument("--json", action="store_true", help="print JSON instead of text")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except RelanceError as error:
            raise CommandError(error.message) from None

    def _user(self, username: str) -> Any:
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(NO_SUCH_USER.format(username=username)) from None

    def _create(self, options: dict[str, Any]) -> None:
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        token, secret = services.api_token_create(
            user=self._user(options["user"]), name=options["name"], expires_at=expires_at
        )
        if options["json"]:
            self.stdout.write(json.dumps({**_token_json(token), "secret": secret}))
            return
        self.stdout.write(secret)
        self.stderr.write(f"Token {token.prefix} for {token.user} created. {SECRET_NOTICE}")

    def _list(self, options: dict[str, Any]) -> None:
        user = self._user(options["user"]) if options["user"] else None
        tokens = list(selectors.api_token_list(user=user))
        if options["json"]:
            self.stdout.write(json.dumps([_token_json(token) for token in tokens]))
            return
        if not tokens:
            self.stdout.write("No API tokens.")
            return
        from rich.console import Console
        from rich.table import Table

        table = Table("prefix", "user", "name", "created", "last used", "expires", "status")
        for token in tokens:
            row = _token_json(token)
            table.add_row(
                row["prefix"],
                row["user"],
                row["name"],
                _short(row["created_at"]),
                _short(row["last_used_at"]),
                _short(row["expires_at"]),
                row["status"],
            )
        Console(file=cast(IO[str], self.stdout), soft_wrap=True).print(table)

    def _revoke(self, options: dict[str, Any]) -> None:
        token = services.api_token_revoke(prefix=options["prefix"])
        if options["json"]:
            self.stdout.write(json.dumps(_token_json(token)))
        else:
            self.stdout.write(f"Token {token.prefix} ({token.name or 'unnamed'}) of {token.user} revoked.")


def _token_json(token: Any) -> dict[str, Any]:
    now = timezone.now()
    if token.revoked_at is not None:
        status = "revoked"
    elif token.expires_at is not None and token.expires_at <= now:
        status = "expired"
    else:
        status = "active"

    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "prefix": token.prefix,
        "user": token.user.get_username(),
        "name": token.name,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
        "expires_at": iso(token.expires_at),
        "revoked_at": iso(token.revoked_at),
        "status": status,
    }


def _short(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "—"
