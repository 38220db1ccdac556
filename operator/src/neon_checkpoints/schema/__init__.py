"""What a checkpoint holds: its databases' schema, captured at Ready, shown and diffed from the meta database
(design.md §9)."""
