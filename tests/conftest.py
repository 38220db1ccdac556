"""Shared fixtures: each real component is a plugin module under tests/fixtures."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.kube",
    "tests.fixtures.emulator",
    "tests.fixtures.pulumi",
]
