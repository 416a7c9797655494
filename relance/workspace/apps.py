from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The collectors' and credit managers' workspace: worklist, customer 360, queues, search."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "relance.workspace"
    label = "workspace"
    verbose_name = "Workspace"

    def ready(self) -> None:
        """Add the worklist and notes endpoints (``relance.workspace.api``) to ``/api/v1``: the
        workspace sits above the API in the layers, so the API cannot import them itself."""
        from relance.workspace.api import mount

        mount()
