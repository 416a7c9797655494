from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "relance.accounts"
    label = "accounts"
    verbose_name = "Accounts (roles, sign-in)"

    def ready(self) -> None:
        from relance.accounts import signals
        from relance.accounts.services import roles_sync_after_migrate

        signals.connect()

        # After every migrate (and test database set-up), once all permissions exist.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="relance.accounts.roles_sync")
