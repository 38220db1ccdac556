"""Component resources: a Neon database site (project, branch, endpoint, role, database, URL) and the
checkpoint environment built from two of them."""

from __future__ import annotations

import pulumi

from .branch import NeonBranch
from .connection import ConnectionUri
from .database import NeonDatabase
from .endpoint import NeonEndpoint
from .kube_secret import OperatorSecret
from .neon_resource import NeonApi, OnBranch
from .project import NeonProject
from .role import NeonRole
from .settings import META_BRANCH, StackSettings


class DatabaseSite(pulumi.ComponentResource):
    """One Neon project whose root branch carries a database owned by its own role."""

    project_id: pulumi.Output[str]
    branch_name: pulumi.Output[str]
    database_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        api_key: pulumi.Input[str],
        project_name: str,
        branch_name: str,
        database_name: str,
        role_name: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("neon-checkpoints:index:DatabaseSite", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        api = NeonApi(settings.api_url, api_key)
        self.project = NeonProject(
            f"{name}-project",
            api,
            name=project_name,
            root_branch_name=branch_name,
            region_id=settings.region_id,
            pg_version=settings.pg_version,
            opts=child,
        )
        # The root branch, adopted by NAME: its id changes on every finalized restore.
        self.branch = NeonBranch(
            f"{name}-branch", api, project_id=self.project.project_id, name=branch_name, opts=child
        )
        on_branch = OnBranch(api, self.project.project_id, self.branch.name)
        self.endpoint = NeonEndpoint(f"{name}-endpoint", on_branch, opts=child)
        self.role = NeonRole(f"{name}-role", on_branch, name=role_name, opts=child)
        self.database = NeonDatabase(
            f"{name}-database", on_branch, name=database_name, owner_name=self.role.name, opts=child
        )
        self.url = ConnectionUri(
            f"{name}-url",
            on_branch,
            endpoint_id=self.endpoint.endpoint_id,
            database_name=self.database.name,
            role_name=self.role.name,
            role_password=self.role.password,
            opts=child,
        )
        self.project_id = self.project.project_id
        self.branch_name = self.branch.name
        self.database_url = pulumi.Output.secret(self.url.uri)
        self.register_outputs(
            {
                "project_id": self.project_id,
                "branch_name": self.branch_name,
                "database_url": self.database_url,
            }
        )


class CheckpointEnvironment(pulumi.ComponentResource):
    """What the operator needs: the app's project with its production branch and database, and the meta
    database in a SEPARATE project, so that restoring the app never rolls the checkpoint timeline back."""

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        api_key: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("neon-checkpoints:index:Environment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.app = DatabaseSite(
            "app",
            settings=settings,
            api_key=api_key,
            project_name=settings.app_name,
            branch_name=settings.production_branch,
            database_name=settings.database_name,
            role_name=settings.role_name,
            opts=child,
        )
        self.meta = DatabaseSite(
            "meta",
            settings=settings,
            api_key=api_key,
            project_name=settings.meta_project_name,
            branch_name=META_BRANCH,
            database_name=settings.meta_database_name,
            role_name=settings.meta_role_name,
            opts=child,
        )
        self.operator_secret: OperatorSecret | None = None
        if settings.kubeconfig:
            self.operator_secret = OperatorSecret(
                "operator-secret",
                kubeconfig=settings.kubeconfig,
                namespace=settings.operator_namespace,
                name=settings.operator_secret_name,
                string_data={
                    "NEON_API_URL": settings.api_url,
                    "NEON_API_KEY": api_key,
                    "META_DATABASE_URL": self.meta.database_url,
                },
                opts=child,
            )
        self.register_outputs(
            {
                "app_project_id": self.app.project_id,
                "production_branch": self.app.branch_name,
                "app_database_url": self.app.database_url,
                "meta_project_id": self.meta.project_id,
                "meta_database_url": self.meta.database_url,
            }
        )
