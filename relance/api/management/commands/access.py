"""``relance access grant|revoke|list``: which entities a (non-superuser) user may see."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.accounts import services
from relance.accounts.models import EntityAccess
from relance.core.errors import RelanceError
from relance.ledger.selectors import entity_resolve

NO_SUCH_USER = "no user named {username!r}"


class Command(BaseCommand):
    help = "Grant, revoke or list a user's access to entities (superusers see every entity anyway)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{grant,revoke,list}")
        for name, text in (("grant", "let USER see ENTITY"), ("revoke", "stop USER seeing ENTITY")):
            action = actions.add_parser(name, help=text)
            action.add_argument("--user", required=True, metavar="USERNAME", help="the user")
            action.add_argument("--entity", required=True, metavar="NAME", help="the entity's short name")
        listing = actions.add_parser("list", help="list who may see what")
        listing.add_argument("--user", default=None, metavar="USERNAME", help="only this user")
        listing.add_argument("--json", action="store_true", help="print JSON instead of text")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            action = options["action"]
            if action == "list":
                self._list(options)
                return
            user, entity = self._user(options["user"]), entity_resolve(name=options["entity"])
            if action == "grant":
                services.entity_access_grant(user=user, entity=entity)
                self.stdout.write(f"{user} may now see entity {entity.name}.")
            else:
                removed = services.entity_access_revoke(user=user, entity=entity)
                self.stdout.write(
                    f"{user} no longer sees entity {entity.name}." if removed else "Nothing to revoke."
                )
        except RelanceError as error:
            raise CommandError(error.message) from None

    def _user(self, username: str) -> Any:
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(NO_SUCH_USER.format(username=username)) from None

    def _list(self, options: dict[str, Any]) -> None:
        rows = EntityAccess.objects.select_related("user", "entity").order_by(
            "user__username", "entity__name"
        )
        if options["user"]:
            rows = rows.filter(user=self._user(options["user"]))
        pairs = [(row.user.get_username(), row.entity.name) for row in rows]
        if options["json"]:
            self.stdout.write(json.dumps([{"user": user, "entity": entity} for user, entity in pairs]))
        else:
            self.stdout.write(
                "\n".join(f"{user}\t{entity}" for user, entity in pairs) or "No access granted."
            )
