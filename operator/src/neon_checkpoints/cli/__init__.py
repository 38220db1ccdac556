"""`neon-checkpoints`: the command line, one module per subcommand."""
