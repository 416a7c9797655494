"""``relance demo``: a realistic demo ledger, a team with two years of collection work, their
logins, and the server — in one command."""

from __future__ import annotations

import io
import json
import secrets
import shutil
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from relance.ledger.models import Entity
from relance.ledger.services import entity_create_or_update

DEMO_ENTITY = {
    "name": "demo",
    "legal_name": "Demo Industries SAS",
    "currency": "EUR",
    "language": "en",
    "country": "FR",
    "address": "12 rue de la Paix\n75002 Paris\nFrance",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
    "vat_id": "FR40303265045",
}


class Command(BaseCommand):
    help = (
        "Set up a demo: migrate, create the demo entity, an admin and a team (credit manager, "
        "collectors, sales owners, support, auditor), load about two years of ledger and collection "
        "work for ~500 customers, print the URL and logins, then serve."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Do everything but start the server")
        parser.add_argument("--host", default="127.0.0.1", help="Address to serve on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="Port to serve on (default 8000)")
        parser.add_argument(
            "--customers", type=int, default=500, help="Number of demo customers (default 500)"
        )
        parser.add_argument("--years", type=int, default=2, help="Years of history (default 2)")
        parser.add_argument("--seed", type=int, default=42, help="Random seed of the demo data (default 42)")
        parser.add_argument("--username", default="admin", help="Admin username (default admin)")
        parser.add_argument(
            "--password",
            default=None,
            help="Admin password (default: $RELANCE_DEMO_PASSWORD or a random one)",
        )
        parser.add_argument(
            "--reset", action="store_true", help="Delete the demo entity's ledger and load it again"
        )
        parser.add_argument(
            "--no-team", action="store_true", help="Seed no team and no collection history (admin only)"
        )
        parser.add_argument(
            "--demo-passwords",
            action="store_true",
            help="Give the team the published demo password even with production settings or a "
            "public address (a demo nobody relies on)",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the URL and logins as JSON (progress on stderr)"
        )

    def handle(self, *args, **options) -> None:
        from relance.common.links import public_url_follow_server
        from relance.demo.team import DEMO_PASSWORD, PASSWORDS_REFUSED, demo_passwords_refusal

        started = time.monotonic()
        self.progress = sys.stderr if options["json"] else self.stdout
        team_wanted = not options["no_team"]
        refusal = demo_passwords_refusal(host=options["host"])
        if team_wanted and refusal and not options["demo_passwords"]:
            raise CommandError(PASSWORDS_REFUSED.format(password=DEMO_PASSWORD, why=refusal))
        # before anything is queued: the demo's messages link to where it is served
        public = public_url_follow_server(host=options["host"], port=options["port"])
        call_command("migrate", interactive=False, verbosity=0)
        entity, _ = entity_create_or_update(**DEMO_ENTITY)
        if options["reset"]:
            self._wipe(entity)
        logins = self._team(entity) if team_wanted else []
        if entity.invoices.exists():
            self._say(
                f"Demo ledger already loaded ({entity.invoices.count():,} invoices); --reset reloads it."
            )
        else:
            self._load(entity, options)
            self._bad_contacts(entity)
            self._policies(entity)
            if team_wanted:
                self._portfolios(entity, logins)
                self._history(entity, options, logins)
            self._statement_of_the_day(entity, options)
            self._collections(entity)
            self._invoice_copies(entity)
            self._credit_reviews(entity)
            self._duplicates(entity)
        self._credit_application(entity)
        self._quality(entity)
        snapshots = self._kpi_snapshots(entity, background=not options["no_serve"])
        predictions = self._predictions(entity, background=not options["no_serve"])
        username, password = self._admin(options)
        seconds = time.monotonic() - started
        url = f"{public}/"
        if options["json"]:
            summary = {
                "url": url,
                "seconds": round(seconds, 1),
                "email_backend": settings.EMAIL_BACKEND,
                "admin": {"username": username, "password": password},
                "team": [login.as_dict() for login in logins],
            }
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(self.style.SUCCESS(f"\nReady in {seconds:.1f} s."))
            self.stdout.write(f"  URL:      {url}\n  Username: {username}\n  Password: {password}\n")
            self._logins_print(logins)
        if options["no_serve"]:
            return
        try:
            call_command("serve", host=options["host"], port=options["port"])
        finally:
            for child in (snapshots, predictions):
                if child is not None and child.poll() is None:
                    child.terminate()

    def _bad_contacts(self, entity: Entity) -> None:
        """Some broken contacts (relance/demo/bad_contacts.py), checked like an import's."""
        from relance.demo.bad_contacts import bad_contacts_seed
        from relance.quality.contacts_services import contacts_validate

        count = bad_contacts_seed(entity=entity)
        result = contacts_validate(entity=entity, only_unchecked=True)
        self._say(f"Contacts checked: {result.checked:,} ({count} demo contacts with a data problem).")

    def _quality(self, entity: Entity) -> None:
        """The data-quality check the dashboard card and the fix list read."""
        from relance.quality.report import quality_check

        self._say(quality_check(entity=entity, trigger="demo").summary())

    def _kpi_snapshots(self, entity: Entity, *, background: bool) -> subprocess.Popen | None:
        """The dashboard's KPI snapshots (12 month-ends), so its loads read instead of computing.

        Before serving they are computed by a child process while the server already answers
        (the dashboard computes what is missing meanwhile: the demo is under the live limit);
        with --no-serve, here and now."""
        if not background:
            self._say("Computing the dashboard's KPI snapshots…")
            call_command("kpi", "snapshot", "--entity", entity.name, "--quiet")
            return None
        self._say("Computing the dashboard's KPI snapshots in the background…")
        command = [sys.executable, "-m", "relance.cli", "kpi", "snapshot", "--entity", entity.name, "--quiet"]
        return subprocess.Popen(command, stdin=subprocess.DEVNULL)

    def _predictions(self, entity: Entity, *, background: bool) -> subprocess.Popen | None:
        """Today's pay-date predictions (``relance predict``): the 360's panel, the worklist's next
        best action and the dashboard's cash forecast read them. Training takes a while (about
        20 s of CPU on the demo ledger), so before serving it runs in a child process at a lower
        priority, and the pages show predictions once it is done; with --no-serve, here and now."""
        today = timezone.localdate().isoformat()
        if not background:
            self._say("Predicting pay dates of the open invoices…")
            try:
                call_command("predict", "--as-of", today, "--entity", entity.name, stdout=io.StringIO())
            except CommandError as refusal:  # the [predict] extra not installed
                self._say(f"Predictions skipped: {refusal}")
            return None
        self._say("Predicting pay dates of the open invoices in the background (relance predict)…")
        command = [sys.executable, "-m", "relance.cli", "predict", "--as-of", today, "--entity", entity.name]
        nice = shutil.which("nice")  # coreutils: the server keeps the CPU it needs
        return subprocess.Popen(
            [nice, "-n", "10", *command] if nice else command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

    def _say(self, text: str) -> None:
        self.progress.write(text if text.endswith("\n") else f"{text}\n")

    def _team(self, entity: Entity) -> list[Any]:
        """The team's logins: created once, found again by later runs (nobody is added twice)."""
        from relance.demo.team import team_seed

        return team_seed(entity=entity)

    def _portfolios(self, entity: Entity, logins: list[Any]) -> None:
        """Collectors by segment, sales owners alternating (customers already assigned keep theirs)."""
        from relance.demo.team import portfolio_assign, team_users

        assigned = portfolio_assign(entity=entity, users=team_users(logins))
        self._say(f"Portfolios: {assigned} customers given a collector and a sales owner.")

    def _history(self, entity: Entity, options: dict, logins: list[Any]) -> None:
        from relance.demo.history import collection_history_seed
        from relance.demo.team import team_users

        self._say("Replaying two years of collection work…")
        report = collection_history_seed(
            entity=entity, today=timezone.localdate(), seed=options["seed"], team=team_users(logins)
        )
        self._say(f"History: {report}.")

    def _logins_print(self, logins: list[Any]) -> None:
        if not logins:
            return
        self.stdout.write("  The team (demo-only passwords, never use them on a real server):")
        for login in logins:
            password = login.password or "(unchanged: this user existed before the demo)"
            self.stdout.write(f"    {login.role:<15} {login.username:<22} {password:<20} {login.portfolio}")
        self.stdout.write(f"  E-mail: {settings.EMAIL_BACKEND} (relance send delivers today's queue there)\n")

    def _load(self, entity: Entity, options: dict) -> None:
        from relance.demo.loader import ledger_load
        from relance.synthetic.generator import GeneratorConfig, generate_ledger

        config = GeneratorConfig(
            seed=options["seed"],
            customers=options["customers"],
            invoices=options["customers"] * 24 * options["years"] // 2,
            years=options["years"],
            end=timezone.localdate(),
        )
        self._say(f"Generating {config.customers} customers, about {config.invoices:,} invoices…")
        ledger = generate_ledger(config)
        result = ledger_load(ledger=ledger, entity=entity)
        self._say(f"Loaded {result}.")

    def _statement_of_the_day(self, entity: Entity, options: dict) -> None:
        """Today's bank statement (camt.053) imported and matched before today's run: what was paid
        is not dunned, and the exception queue has suggested and unmatched lines to work."""
        from relance.demo.bank_statement import statement_of_the_day

        outcome = statement_of_the_day(
            entity=entity,
            today=timezone.localdate(),
            seed=options["seed"],
            directory=settings.RELANCE_VAR_DIR / "demo",
        )
        self._say(f"Statement of the day: {outcome} (relance bank lines).")

    def _collections(self, entity: Entity) -> None:
        """Today's run and its messages queued: the worklist, the outbox and the customer pages have
        something to show. Nothing is sent: `relance send` delivers to EMAIL_URL."""
        from relance.delivery.services import outbox_enqueue_run
        from relance.dunning.services import run_start

        outcome = run_start(entity=entity, as_of=timezone.localdate(), started_by="relance demo")
        queued = outbox_enqueue_run(run=outcome.run) if outcome.run is not None else None
        self._say(
            f"Today's collections run: {len(outcome.decisions)} decisions"
            + (f", {queued.created} messages queued (relance outbox list)." if queued else ".")
        )

    @staticmethod
    def _policies(entity: Entity) -> None:
        """The shipped policies: standard by default, white glove for key accounts, high risk for
        the high-risk segment."""
        from relance.dunning.services import policy_install_shipped, segment_policy_assign

        policy_install_shipped(entity=entity)
        segments = set(entity.customers.exclude(segment="").values_list("segment", flat=True))
        for segment, key in (("key account", "white_glove"), ("high risk", "high_risk")):
            if segment in segments:
                segment_policy_assign(entity=entity, policy_key=key, segment=segment)

    def _invoice_copies(self, entity: Entity) -> None:
        """A PDF "invoice copy" for some open invoices, for the portal's download (the ERP's in real life)."""
        from relance.demo.invoice_copies import demo_invoice_copies_attach

        attached = demo_invoice_copies_attach(entity=entity, as_of=timezone.localdate())
        self._say(f"Invoice PDFs: {attached} demo copies attached (relance documents import for real ones).")

    def _duplicates(self, entity: Entity) -> None:
        """A few customers typed in twice, and the search that lists them for review."""
        from relance.demo.duplicates import demo_duplicates_seed

        pairs = demo_duplicates_seed(entity=entity)
        self._say(f"Duplicate customers: {pairs} candidate pairs to review (Workspace → Duplicates).")

    def _credit_application(self, entity: Entity) -> None:
        """One credit application waiting for a credit manager (Workspace → Applications)."""
        from relance.demo.applications import demo_pending_application

        if demo_pending_application(entity=entity) is not None:
            self._say("Credit applications: one pending (a prospect asking for 60,000 EUR: two approvers).")

    def _credit_reviews(self, entity: Entity) -> None:
        """The daily credit step of a month ago, then today's: the review queue has real proposals
        (classes dropped since then, limits breached, room to grow)."""
        from datetime import timedelta

        from relance.core.actors import Actor
        from relance.credit.services.reviews import review_run

        today = timezone.localdate()
        review_run(entity=entity, as_of=today - timedelta(days=30), actor=Actor.system("relance demo"))
        outcome = review_run(entity=entity, as_of=today, actor=Actor.system("relance demo"))
        proposals = ", ".join(f"{count} {kind}" for kind, count in outcome.by_proposal.items()) or "none"
        self._say(f"Credit reviews: today's step proposes {proposals} (relance credit review list).")

    @transaction.atomic
    def _wipe(self, entity: Entity) -> None:
        """Delete everything of the demo entity but the entity itself: first whatever the other apps
        keep about its customers (runs, messages, promises, portal links…), then the ledger."""
        from django.apps import apps
        from django.db.models import ProtectedError

        from relance.ledger.models import (
            Allocation,
            CreditNote,
            Customer,
            ExchangeRate,
            Invoice,
            Order,
            Payment,
        )

        ledger = {Allocation, Payment, CreditNote, Invoice, Order, ExchangeRate, Customer}
        dependants = [
            model
            for model in apps.get_models()
            if model not in ledger
            and model._meta.app_label not in {"ledger", "auth", "admin", "contenttypes", "sessions"}
            and any(
                getattr(field, "related_model", None) in (Customer, Entity)
                and field.name in ("customer", "entity")
                for field in model._meta.get_fields()
            )
        ]
        for _ in range(len(dependants) + 1):  # protected references: delete dependants first
            blocked = []
            for model in dependants:
                field = "customer__entity" if hasattr(model, "customer_id") else "entity"
                try:
                    with transaction.atomic():
                        model._default_manager.filter(**{field: entity}).delete()
                except ProtectedError:
                    blocked.append(model)
            if not blocked:
                break
            dependants = blocked
        Allocation.objects.filter(entity=entity).delete()
        for model in (Payment, CreditNote, Invoice, Order, ExchangeRate):
            model.objects.filter(entity=entity).delete()
        Customer.objects.filter(entity=entity).delete()

    def _admin(self, options: dict) -> tuple[str, str]:
        """Create the demo admin, or reuse it; never take over an account the demo did not make.

        The generated password is kept in ``var/demo-admin-password`` (mode 600) so that a second
        ``make demo`` can print it again. An existing user whose password is not that one is left
        untouched unless ``--password`` says otherwise.
        """
        import os

        from django.conf import settings

        saved = settings.RELANCE_VAR_DIR / "demo-admin-password"
        explicit = options["password"] or os.environ.get("RELANCE_DEMO_PASSWORD")
        user_model = get_user_model()
        user = user_model.objects.filter(username=options["username"]).first()
        remembered = saved.read_text().strip() if saved.exists() else None
        if user is not None and not explicit:
            if remembered and user.check_password(remembered):
                return options["username"], remembered
            return options["username"], "(unchanged: this user existed before; use --password to set one)"
        password = explicit or secrets.token_urlsafe(9)
        if user is None:
            user = user_model(username=options["username"])
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        if not explicit:
            saved.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password)
        return options["username"], password
