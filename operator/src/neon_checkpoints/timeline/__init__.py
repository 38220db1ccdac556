"""A project's timeline as people read it: checkpoints and restores in order, with lineage (pure)."""
