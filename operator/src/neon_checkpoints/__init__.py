"""The neon-checkpoints Kubernetes operator (kopf): Checkpoint, CheckpointRestore, CheckpointSchedule."""
