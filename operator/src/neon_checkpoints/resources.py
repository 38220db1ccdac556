"""Names of the custom resources this operator serves (one place, shared by handlers and tests)."""

GROUP = "neoncheckpoints.dev"
VERSION = "v1alpha1"
CHECKPOINTS = "checkpoints"
CHECKPOINT_RESTORES = "checkpointrestores"
