from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "relance.accounts"
    label = "accounts"
    verbose_name = "Accounts (roles, sign-in)"
