"""CheckpointRestore: bring production (Finalize) or a new branch (Preview) back to a checkpoint, once;
and keep the `(old)` branches finalized restores leave behind in check (spec, plans, flows, pruning)."""
