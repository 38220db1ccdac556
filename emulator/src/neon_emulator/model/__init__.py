"""The emulator's model: records and the decisions of each Neon resource, without I/O."""
