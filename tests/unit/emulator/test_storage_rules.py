"""Pure rules of the storage layer: names, lock files, WAL selection for a backup, error classification."""

from __future__ import annotations

import pytest

from neon_emulator.storage.copy import start_wal_file, wal_segments_between
from neon_emulator.storage.errors import StorageError, is_no_space
from neon_emulator.storage.layout import checked_name
from neon_emulator.storage.postmaster_pid import PidFile, parse_pid_file


@pytest.mark.parametrize("name", ["br-young-forest-a5b6c7d8", "snap-quiet-meadow-a5b6c7d8", "a", "x.y_z-1"])
def test_ids_are_valid_cluster_names(name: str) -> None:
    assert checked_name(name) == name


@pytest.mark.parametrize("name", ["", "..", ".template", "a/b", "../escape", "-x", "br x", "a" * 129])
def test_paths_and_hidden_names_are_refused(name: str) -> None:
    with pytest.raises(StorageError, match="invalid cluster name"):
        checked_name(name)


PID_FILE_READY = "4242\n/data/br-a\n1700000000\n5433\n/tmp/sock\n127.0.0.1\n  5433001    163840\nready   \n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PID_FILE_READY, PidFile(pid=4242, port=5433, status="ready")),
        ("4242\n/data/br-a\n1700000000\n5433\n", PidFile(pid=4242, port=5433, status="")),
        ("4242\n", PidFile(pid=4242, port=None, status="")),
        ("", None),
        ("garbage\n", None),
    ],
    ids=["ready server", "starting server (no status yet)", "pid only", "empty file", "garbage"],
)
def test_pid_file_parsing(text: str, expected: PidFile | None) -> None:
    assert parse_pid_file(text) == expected


def test_wal_needed_by_a_backup_is_the_range_on_its_timeline_plus_history() -> None:
    names = [
        "000000010000000000000001",
        "000000010000000000000002",
        "000000010000000000000003",
        "000000010000000000000004",  # recycled for the future: not needed
        "000000020000000000000002",  # another timeline
        "00000002.history",
        "archive_status",
        "xlogtemp.123",
    ]
    assert wal_segments_between(names, "000000010000000000000002", "000000010000000000000003") == [
        "000000010000000000000002",
        "000000010000000000000003",
        "00000002.history",
    ]


def test_backup_label_names_its_first_wal_file() -> None:
    label = (
        "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
        "CHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\n"
    )
    assert start_wal_file(label) == "000000010000000000000002"
    with pytest.raises(StorageError):
        start_wal_file("BACKUP METHOD: streamed\n")


@pytest.mark.parametrize(
    ("text", "full"),
    [
        ("cp: error writing 'x': No space left on device", True),
        ('could not extend file "base/5/16384": wrote only 4096 of 8192 bytes', True),
        ("cp: cannot stat 'x': No such file or directory", False),
    ],
)
def test_out_of_space_messages_are_recognised(text: str, full: bool) -> None:
    assert is_no_space(text) is full
