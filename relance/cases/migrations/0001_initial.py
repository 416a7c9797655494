"""The case models move here from ``dunning`` with their rows (docs/architecture.md, "What ``cases`` and ``dunning`` own").

State only: the tables exist (created by dunning's migrations) and keep their ``dunning_`` names
(``db_table``); ``dunning.0013_cases_moved_out`` removes the models from dunning's state after
this. The content types move too, so every permission granted on them (groups, users) stays
granted, and the audit trail's object types follow the models (``dunning.promise`` →
``cases.promise``): the same rows under their new label, so "who created this hold" still finds
its event.
"""

import django.core.validators
import django.db.models.deletion
import relance.ledger.validators
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


MOVED = (
    "promise",
    "dispute",
    "paymentplan",
    "installment",
    "customerhold",
    "contactlog",
    "credithold",
    "externalcollection",
)


def relabel(apps, schema_editor, old="dunning", new="cases"):
    content_type = apps.get_model("contenttypes", "ContentType")
    audit_event = apps.get_model("audit", "AuditEvent")
    db = schema_editor.connection.alias
    for model in MOVED:
        if not content_type.objects.using(db).filter(app_label=new, model=model).exists():
            content_type.objects.using(db).filter(app_label=old, model=model).update(app_label=new)
        audit_event.objects.using(db).filter(object_type=f"{old}.{model}").update(
            object_type=f"{new}.{model}"
        )


def relabel_back(apps, schema_editor):
    relabel(apps, schema_editor, old="cases", new="dunning")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("dunning", "0012_policyversion_author_comment"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("audit", "0001_initial"),
        ("ledger", "0007_search_text"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PaymentPlan",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("starts_on", models.DateField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("active", "Active"),
                                    ("completed", "Completed"),
                                    ("cancelled", "Cancelled"),
                                ],
                                default="active",
                                max_length=10,
                            ),
                        ),
                        (
                            "currency",
                            models.CharField(
                                max_length=3, validators=[relance.ledger.validators.validate_currency]
                            ),
                        ),
                        ("note", models.TextField(blank=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="payment_plans",
                                to="ledger.customer",
                            ),
                        ),
                        (
                            "entity",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="ledger.entity",
                            ),
                        ),
                        (
                            "invoices",
                            models.ManyToManyField(
                                db_table="dunning_plan_invoice",
                                related_name="payment_plans",
                                to="ledger.invoice",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dunning_paymentplan",
                        "ordering": ["customer", "starts_on", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="Installment",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("sequence", models.PositiveIntegerField()),
                        ("due_date", models.DateField()),
                        (
                            "amount",
                            models.DecimalField(
                                decimal_places=4,
                                max_digits=18,
                                validators=[django.core.validators.MinValueValidator(Decimal("0.0001"))],
                            ),
                        ),
                        ("paid_on", models.DateField(blank=True, null=True)),
                        (
                            "plan",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="installments",
                                to="cases.paymentplan",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dunning_installment",
                        "ordering": ["plan", "sequence"],
                    },
                ),
                migrations.CreateModel(
                    name="Promise",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("created_on", models.DateField()),
                        ("promised_date", models.DateField()),
                        (
                            "amount",
                            models.DecimalField(
                                decimal_places=4,
                                max_digits=18,
                                validators=[django.core.validators.MinValueValidator(Decimal("0.0001"))],
                            ),
                        ),
                        (
                            "currency",
                            models.CharField(
                                max_length=3, validators=[relance.ledger.validators.validate_currency]
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("open", "Open (pausing dunning until its date plus grace)"),
                                    ("kept", "Kept"),
                                    ("broken", "Broken (not paid by its date plus grace; dunning resumed)"),
                                    ("cancelled", "Cancelled"),
                                ],
                                default="open",
                                max_length=10,
                            ),
                        ),
                        ("note", models.TextField(blank=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="promises",
                                to="ledger.customer",
                            ),
                        ),
                        (
                            "entity",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="ledger.entity",
                            ),
                        ),
                        (
                            "invoices",
                            models.ManyToManyField(
                                db_table="dunning_promise_invoice",
                                related_name="promises",
                                to="ledger.invoice",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dunning_promise",
                        "ordering": ["customer", "promised_date", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="ContactLog",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("on", models.DateField()),
                        ("channel", models.CharField(max_length=24)),
                        ("note", models.TextField(blank=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="contact_logs",
                                to="ledger.customer",
                            ),
                        ),
                        (
                            "entity",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="ledger.entity",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dunning_contactlog",
                        "ordering": ["customer", "-on", "-id"],
                        "indexes": [
                            models.Index(
                                fields=["entity", "customer", "on"], name="dunning_con_entity__8a5a32_idx"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="CreditHold",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[("active", "Active (no new orders)"), ("released", "Released")],
                                default="active",
                                max_length=10,
                            ),
                        ),
                        ("placed_on", models.DateField()),
                        ("reason", models.CharField(blank=True, max_length=200)),
                        ("released_on", models.DateField(blank=True, null=True)),
                        ("released_by", models.CharField(blank=True, max_length=150)),
                        (
                            "action",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="credit_holds",
                                to="dunning.dunningaction",
                            ),
                        ),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="credit_holds",
                                to="ledger.customer",
                            ),
                        ),
                        (
                            "entity",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="ledger.entity",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dunning_credithold",
                        "ordering": ["customer", "-placed_on", "-id"],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("status", "active")),
                                fields=("customer",),
                                name="one_active_credit_hold_per_customer",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="CustomerHold",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("hold", "Hold (no dunning)"),
                                    ("legal", "Legal case"),
                                    ("do_not_contact", "Do not contact"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("reason", models.CharField(max_length=200)),
                        ("starts_on", models.DateField()),
                        (
                            "ends_on",
                            models.DateField(
                                blank=True, help_text="Last day in force; empty = until removed", null=True
                            ),
                        ),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="holds",
                                to="ledger.customer",
                            ),
                        ),
                        (
                            "entity",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="ledger.entity",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dunning_customerhold",
                        "ordering": ["customer", "starts_on", "id"],
                        "indexes": [
                            models.Index(fields=["entity", "customer"], name="dunning_cus_entity__9afcff_idx")
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="Dispute",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "amount",
                            models.DecimalField(
                                decimal_places=4,
                                max_digits=18,
                                validators=[django.core.validators.MinValueValidator(Decimal("0.0001"))],
                            ),
                        ),
                        (
                            "reason_code",
                            models.CharField(
                                choices=[
                                    ("pricing", "Price or discount"),
                                    ("quantity", "Quantity"),
                                    ("quality", "Quality or damage"),
                                    ("not_received", "Goods or service not received"),
                                    ("duplicate", "Duplicate invoice"),
                                    ("already_paid", "Already paid"),
                                    ("po_missing", "Purchase order missing or wrong"),
                                    ("other", "Other"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[("open", "Open"), ("resolved", "Resolved")],
                                default="open",
                                max_length=10,
                            ),
                        ),
                        ("opened_on", models.DateField()),
                        ("resolved_on", models.DateField(blank=True, null=True)),
                        (
                            "resolution",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("credit_note", "Credit note issued"),
                                    ("write_off", "Written off"),
                                    ("rejected", "Rejected: the amount is due"),
                                    ("withdrawn", "Withdrawn by the customer"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("note", models.TextField(blank=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="disputes",
                                to="ledger.customer",
                            ),
                        ),
                        (
                            "entity",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="ledger.entity",
                            ),
                        ),
                        (
                            "invoice",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="disputes",
                                to="ledger.invoice",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dunning_dispute",
                        "ordering": ["opened_on", "id"],
                        "indexes": [
                            models.Index(
                                fields=["entity", "invoice", "status"], name="dunning_dis_entity__81710f_idx"
                            )
                        ],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("amount__gt", 0)), name="dispute_amount_positive"
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("resolved_on__isnull", True),
                                    ("resolved_on__gte", models.F("opened_on")),
                                    _connector="OR",
                                ),
                                name="dispute_resolved_after_opened",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("status", "open"), ("resolved_on__isnull", True)),
                                    models.Q(("status", "resolved"), ("resolved_on__isnull", False)),
                                    _connector="OR",
                                ),
                                name="dispute_status_matches_resolution_date",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ExternalCollection",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("handed_on", models.DateField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending (to be sent to the agency)"),
                                    ("sent", "Sent to the agency"),
                                    ("accepted", "Accepted by the agency"),
                                    ("returned", "Returned by the agency"),
                                    ("closed", "Closed"),
                                ],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("amount", models.DecimalField(decimal_places=4, max_digits=18)),
                        (
                            "currency",
                            models.CharField(
                                max_length=3, validators=[relance.ledger.validators.validate_currency]
                            ),
                        ),
                        ("agency", models.CharField(blank=True, max_length=200)),
                        ("status_changed_on", models.DateField()),
                        (
                            "status_changed_by",
                            models.CharField(
                                blank=True, help_text="Who set the status ('run' for the run)", max_length=150
                            ),
                        ),
                        ("note", models.TextField(blank=True)),
                        (
                            "action",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="hand_offs",
                                to="dunning.dunningaction",
                            ),
                        ),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="external_collections",
                                to="ledger.customer",
                            ),
                        ),
                        (
                            "entity",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="ledger.entity",
                            ),
                        ),
                        (
                            "invoices",
                            models.ManyToManyField(
                                db_table="dunning_handoff_invoice",
                                related_name="hand_offs",
                                to="ledger.invoice",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dunning_externalcollection",
                        "ordering": ["customer", "-handed_on", "-id"],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("status__in", ["pending", "sent", "accepted"])),
                                fields=("customer",),
                                name="one_open_hand_off_per_customer",
                            )
                        ],
                    },
                ),
                migrations.AddIndex(
                    model_name="paymentplan",
                    index=models.Index(
                        fields=["entity", "customer", "status"], name="dunning_pay_entity__ad570b_idx"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="installment",
                    constraint=models.UniqueConstraint(
                        fields=("plan", "sequence"), name="installment_sequence_unique"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="installment",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("amount__gt", 0)), name="installment_amount_positive"
                    ),
                ),
                migrations.AddIndex(
                    model_name="promise",
                    index=models.Index(
                        fields=["entity", "customer", "status"], name="dunning_pro_entity__1fc652_idx"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="promise",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("promised_date__gte", models.F("created_on"))),
                        name="promise_date_not_before_creation",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="promise",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("amount__gt", 0)), name="promise_amount_positive"
                    ),
                ),
            ],
        ),
        migrations.RunPython(relabel, relabel_back, elidable=False),
    ]
