"""CheckpointSchedule: Checkpoints on a cron or interval trigger, and retention of the ones it made."""
