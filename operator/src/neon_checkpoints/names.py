"""The operator's vocabulary, once: API group and version, kinds and plurals, labels, annotations, the
finalizer, and the Neon object names derived from Kubernetes uids (what makes retries find earlier work)."""

GROUP = "neoncheckpoints.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

CHECKPOINTS = "checkpoints"
CHECKPOINT_RESTORES = "checkpointrestores"
CHECKPOINT_SCHEDULES = "checkpointschedules"
CHECKPOINT_KIND = "Checkpoint"
RESTORE_KIND = "CheckpointRestore"
SCHEDULE_KIND = "CheckpointSchedule"

# kopf's finalizer on Checkpoints (and Preview restores): cleanup in Neon is owed.
FINALIZER = f"{GROUP}/snapshot"

# A schedule's runs: labelled by the schedule (name, cut to a label value; uid) and annotated with the run.
SCHEDULE_LABEL = f"{GROUP}/schedule"
SCHEDULE_UID_LABEL = f"{GROUP}/schedule-uid"
SCHEDULED_TIME_ANNOTATION = f"{GROUP}/scheduled-time"

# On the Secrets the operator writes (a Preview's connection URI): which CheckpointRestore owns it.
RESTORE_UID_LABEL = f"{GROUP}/restore-uid"

PREVIEW_BRANCH_PREFIX = "preview-"


def snapshot_name(uid: str) -> str:
    """The Neon snapshot name of a Checkpoint: from its uid alone, so a retried or resumed create finds the
    snapshot an earlier attempt made instead of making a second one."""
    return f"ckpt-{uid}"


def preview_branch_name(uid: str) -> str:
    """The Neon branch of a Preview restore: from its uid alone, for the same reason."""
    return f"{PREVIEW_BRANCH_PREFIX}{uid}"
