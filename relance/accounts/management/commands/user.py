"""``relance user add|list|role|totp-reset``: people who sign in, their role and entities."""

from __future__ import annotations

import json
import sys
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.accounts import roles, selectors, services
from relance.audit.context import audit_actor, cli_actor_label
from relance.audit.services import audit_record
from relance.core.errors import RelanceError

ROLE_HELP = "one of: " + ", ".join(roles.ROLES) + " (see docs/access.md)"
NO_PASSWORD_NOTICE = "No password set: the user cannot sign in until `relance changepassword {email}`."
EMPTY_PASSWORD = "--password-stdin read an empty password"


class Command(BaseCommand):
    help = "Add users, list them, change a user's role, or reset a user's second factor (TOTP)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{add,list,role,totp-reset}")
        add = actions.add_parser("add", help="add a user who signs in with EMAIL")
        add.add_argument("email", help="the user's e-mail address, also their username")
        add.add_argument("--role", required=True, choices=roles.ROLES, help=ROLE_HELP)
        add.add_argument(
            "--entity",
            action="append",
            default=[],
            metavar="NAME",
            help="grant this entity (repeat for several); admins see every entity anyway",
        )
        add.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (first line); without it the user has no "
            "password until `relance changepassword EMAIL`",
        )
        add.add_argument("--json", action="store_true", help="print the new user as JSON")
        listing = actions.add_parser("list", help="list users with role, entities and second factor")
        listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
        role = actions.add_parser("role", help="make ROLE the user's only role")
        role.add_argument("email", help="the user's e-mail address or username")
        role.add_argument("role", choices=roles.ROLES, help=ROLE_HELP)
        reset = actions.add_parser(
            "totp-reset", help="remove the user's second factor and recovery codes (lost phone)"
        )
        reset.add_argument("email", help="the user's e-mail address or username")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with audit_actor(label=cli_actor_label()):
                getattr(self, "_" + options["action"].replace("-", "_"))(options)
        except RelanceError as error:
            raise CommandError(error.message) from None

    def _add(self, options: dict[str, Any]) -> None:
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError(EMPTY_PASSWORD)
        user = services.user_create(
            email=options["email"], role=options["role"], entity_names=options["entity"], password=password
        )
        row = next(row for row in selectors.user_list() if row["username"] == user.get_username())
        if options["json"]:
            self.stdout.write(json.dumps(row))
        else:
            entities = ", ".join(row["entities"]) or "none"
            self.stdout.write(f"Added {user.get_username()} as {options['role']} (entities: {entities}).")
        if password is None:
            self.stderr.write(NO_PASSWORD_NOTICE.format(email=user.get_username()))

    def _list(self, options: dict[str, Any]) -> None:
        rows = selectors.user_list()
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        if not rows:
            self.stdout.write("No users.")
            return
        from rich.console import Console
        from rich.table import Table

        table = Table("user", "role", "entities", "2FA", "active", "last sign-in")
        for row in rows:
            role = "superuser" if row["superuser"] and not row["role"] else (row["role"] or "—")
            table.add_row(
                row["username"],
                role,
                ", ".join(row["entities"]) or ("all" if row["superuser"] or row["role"] == "admin" else "—"),
                "yes" if row["totp"] else "no",
                "yes" if row["active"] else "no",
                (row["last_login"] or "never")[:16],
            )
        Console(file=cast(IO[str], self.stdout), width=120).print(table)

    def _role(self, options: dict[str, Any]) -> None:
        user = services.user_by_email(email=options["email"])
        before = selectors.user_role(user)
        services.user_role_set(user=user, role=options["role"])
        audit_record(
            action="role_changed", obj=user, before={"role": before}, after={"role": options["role"]}
        )
        self.stdout.write(f"{user.get_username()} is now {options['role']}.")

    def _totp_reset(self, options: dict[str, Any]) -> None:
        user = services.user_by_email(email=options["email"])
        had = services.totp_reset(user=user)
        if had:
            audit_record(action="totp_reset", obj=user)
            self.stdout.write(
                f"Second factor of {user.get_username()} removed: they sign in with the password only."
            )
        else:
            self.stdout.write(f"{user.get_username()} had no second factor.")
