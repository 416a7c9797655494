from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "relance.accounts"
    label = "accounts"
    verbose_name = "Accounts (roles, sign-in)"

    def ready(self) -> None:
        from relance.accounts import signals
        from relance.common.lazy import imported_on_call

        signals.connect()

        # After every migrate (and test database set-up), once all permissions exist. The roles'
        # services load when a migrate runs, not at every start (issue 20).
        post_migrate.connect(
            imported_on_call("relance.accounts.services.roles_sync_after_migrate"),
            weak=False,
            dispatch_uid="relance.accounts.roles_sync",
        )
