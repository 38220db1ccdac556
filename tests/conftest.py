"""Shared fixtures: each real component is a plugin module under tests/support."""

pytest_plugins = [
    "tests.support.postgres",
    "tests.support.kube",
    "tests.support.emulator",
    "tests.support.pulumi",
    "tests.support.operator",
]
