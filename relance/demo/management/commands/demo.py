"""``relance demo``: a realistic demo ledger, an admin login, and the server — in one command."""

from __future__ import annotations

import secrets
import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
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
        "Set up a demo: migrate, create the demo entity and an admin user, load about two years of "
        "history for ~500 customers, print the URL and login, then serve."
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

    def handle(self, *args, **options) -> None:
        from relance.common.links import public_url_follow_server

        started = time.monotonic()
        # before anything is queued: the demo's messages link to where it is served
        public = public_url_follow_server(host=options["host"], port=options["port"])
        call_command("migrate", interactive=False, verbosity=0)
        entity, _ = entity_create_or_update(**DEMO_ENTITY)
        if options["reset"]:
            self._wipe(entity)
        if entity.invoices.exists():
            self.stdout.write(
                f"Demo ledger already loaded ({entity.invoices.count():,} invoices); --reset reloads it."
            )
        else:
            self._load(entity, options)
            self._collections(entity)
            self._invoice_copies(entity)
        # the dashboard's KPI snapshots (12 month-ends), so its first load reads instead of computing
        self.stdout.write("Computing the dashboard's KPI snapshots…")
        call_command("kpi", "snapshot", "--entity", entity.name, "--quiet")
        username, password = self._admin(options)
        self.stdout.write(self.style.SUCCESS(f"\nReady in {time.monotonic() - started:.1f} s."))
        url = f"{public}/"
        self.stdout.write(f"  URL:      {url}\n  Username: {username}\n  Password: {password}\n")
        if options["no_serve"]:
            return
        call_command("serve", host=options["host"], port=options["port"])

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
        self.stdout.write(f"Generating {config.customers} customers, about {config.invoices:,} invoices…")
        ledger = generate_ledger(config)
        result = ledger_load(ledger=ledger, entity=entity)
        self.stdout.write(f"Loaded {result}.")

    def _collections(self, entity: Entity) -> None:
        """Shipped policies (standard by default, white glove for key accounts, high risk for the
        high-risk segment), today's run and its messages queued: the worklist, the outbox and the customer
        pages have something to show. Nothing is sent: `relance send` delivers to EMAIL_URL."""
        from relance.delivery.services import outbox_enqueue_run
        from relance.dunning.services import policy_install_shipped, run_start, segment_policy_assign

        policy_install_shipped(entity=entity)
        segments = set(entity.customers.exclude(segment="").values_list("segment", flat=True))
        for segment, key in (("key account", "white_glove"), ("high risk", "high_risk")):
            if segment in segments:
                segment_policy_assign(entity=entity, policy_key=key, segment=segment)
        outcome = run_start(entity=entity, as_of=timezone.localdate(), started_by="relance demo")
        queued = outbox_enqueue_run(run=outcome.run) if outcome.run is not None else None
        self.stdout.write(
            f"Today's collections run: {len(outcome.decisions)} decisions"
            + (f", {queued.created} messages queued (relance outbox list)." if queued else ".")
        )

    def _invoice_copies(self, entity: Entity) -> None:
        """A PDF "invoice copy" for some open invoices, for the portal's download (the ERP's in real life)."""
        from relance.demo.invoice_copies import demo_invoice_copies_attach

        attached = demo_invoice_copies_attach(entity=entity, as_of=timezone.localdate())
        self.stdout.write(
            f"Invoice PDFs: {attached} demo copies attached (relance documents import for real ones)."
        )

    @transaction.atomic
    def _wipe(self, entity: Entity) -> None:
        """Delete everything of the demo entity but the entity itself: first whatever the other apps
        keep about its customers (runs, messages, promises, portal links…), then the ledger."""
        from django.apps import apps
        from django.db.models import ProtectedError

        from relance.ledger.models import Allocation, CreditNote, Customer, Invoice, Payment

        ledger = {Allocation, Payment, CreditNote, Invoice, Customer}
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
        for model in (Payment, CreditNote, Invoice):
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
