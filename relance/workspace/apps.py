from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The collectors' and credit managers' workspace: worklist, customer 360, queues, search."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "relance.workspace"
    label = "workspace"
    verbose_name = "Workspace"

    def ready(self) -> None:
        """Add the worklist, notes and holds endpoints (``relance.workspace.api``) and the timeline,
        dispute comments and owners, call tasks, snoozes and saved views (``case_api``) to ``/api/v1``: the
        workspace sits above the API in the layers, so the API cannot import them itself. By
        name: the API mounts them when it is built, so a command's start-up loads no ninja."""
        from relance.common.api_routers import api_router_register

        api_router_register("relance.workspace.api.router")
        api_router_register("relance.workspace.case_api.router")
