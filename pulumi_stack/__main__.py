"""neon-checkpoints environment: composition only (the resources live in neon_stack)."""

import pulumi

from neon_stack.environment import CheckpointEnvironment
from neon_stack.settings import read_config

settings, api_key = read_config()
env = CheckpointEnvironment("checkpoints", settings=settings, api_key=api_key)

pulumi.export("app_project_id", env.app.project_id)
pulumi.export("production_branch", env.app.branch_name)
pulumi.export("app_database_url", env.app.database_url)
pulumi.export("meta_project_id", env.meta.project_id)
pulumi.export("meta_database_url", env.meta.database_url)
pulumi.export("neon_api_url", settings.api_url)
if env.operator_secret is not None:
    pulumi.export("operator_secret", f"{settings.operator_namespace}/{settings.operator_secret_name}")
