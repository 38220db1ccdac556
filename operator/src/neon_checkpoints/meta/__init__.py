"""The meta database: the timeline of checkpoints and restores, kept outside any snapshotted branch.

Nothing is imported here, so that a reader of one module (the CLI's `diff` reads `meta.schemas`) does not
load the store and its connection pool: import `meta.store.MetaStore` and `meta.records` by their names."""
