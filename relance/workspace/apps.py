from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The collectors' and credit managers' workspace: worklist, customer 360, queues, search."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "relance.workspace"
    label = "workspace"
    verbose_name = "Workspace"
