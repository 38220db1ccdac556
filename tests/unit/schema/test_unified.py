"""schema/unified.py: a valid `diff -u` in difflib's format, anchored on lines unique to both sides."""

from __future__ import annotations

import difflib
import random
import re

from neon_checkpoints.schema.unified import matching_blocks, unified_diff

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$")


def _patch(a: list[str], diff: list[str]) -> list[str]:
    """Apply a unified diff to `a`, checking every context and removed line and each hunk's counts."""
    assert diff[:2] == ["--- a", "+++ b"]
    out: list[str] = []
    at = 0
    counts = [0, 0]
    expected = [0, 0]
    for line in diff[2:]:
        header = HUNK.match(line)
        if header:
            assert counts == expected, "the previous hunk's line counts"
            start, length = int(header[1]), int(header[2] if header[2] is not None else 1)
            begin = start - 1 if length else start
            assert begin >= at
            out += a[at:begin]
            at = begin
            counts = [0, 0]
            expected = [length, int(header[4] if header[4] is not None else 1)]
            continue
        sign, text = line[0], line[1:]
        if sign in " -":
            assert a[at] == text, f"line {at + 1} of a is {a[at]!r}, the diff says {text!r}"
            at += 1
            counts[0] += 1
        if sign in " +":
            counts[1] += 1
        if sign != "-":
            out.append(text)
    assert counts == expected
    return out + a[at:]


def _schema(tables: int, *, changed: set[int], retyped: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    lines = []
    for t in range(tables):
        id_type = "integer" if t in retyped else "bigint"
        lines += [f"CREATE TABLE public.t{t:03d} (", f"    id {id_type} NOT NULL,", "    name text NOT NULL"]
        if t in changed:
            lines.append("    role text DEFAULT 'member'")
        lines += [");", "", f"ALTER TABLE public.t{t:03d} OWNER TO app;", "", "--", ""]
    return lines


def test_equal_sides_give_no_diff() -> None:
    lines = _schema(5, changed=set())
    assert unified_diff(lines, list(lines), "a", "b") == []
    assert unified_diff([], [], "a", "b") == []


def test_added_columns_are_the_lines_difflib_gives() -> None:
    a, b = _schema(40, changed=set()), _schema(40, changed={3, 21})
    assert unified_diff(a, b, "a", "b") == list(difflib.unified_diff(a, b, "a", "b", lineterm=""))


def test_two_changes_between_two_anchors_keep_the_line_between() -> None:
    # t020's id retyped and a column added after its name: the name line between them stays context (difflib's
    # autojunk drops that popular line and gives a larger diff here).
    a, b = _schema(40, changed=set()), _schema(40, changed={3, 20, 21}, retyped={20})
    ours = unified_diff(a, b, "a", "b")
    assert [line for line in ours if line[0] in "+-" and line[:3] not in ("+++", "---")] == [
        "+    role text DEFAULT 'member'",
        "-    id bigint NOT NULL,",
        "+    id integer NOT NULL,",
        "+    role text DEFAULT 'member'",
        "+    role text DEFAULT 'member'",
    ]
    assert _patch(a, ours) == b


def test_context_is_three_lines_as_difflib() -> None:
    a = list("abcdefghijklmnopqrst")
    for changed in range(len(a)):
        b = [*a[:changed], "X", *a[changed + 1 :]]
        assert unified_diff(a, b, "a", "b") == list(difflib.unified_diff(a, b, "a", "b", lineterm=""))


def test_one_side_empty() -> None:
    lines = ["x", "y"]
    assert unified_diff([], lines, "a", "b") == ["--- a", "+++ b", "@@ -0,0 +1,2 @@", "+x", "+y"]
    assert unified_diff(lines, [], "a", "b") == ["--- a", "+++ b", "@@ -1,2 +0,0 @@", "-x", "-y"]


def test_random_edits_patch_back() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        a = [rng.choice("abcdefgh") for _ in range(rng.randint(0, 40))] + [f"u{i}" for i in range(3)]
        rng.shuffle(a)
        b = list(a)
        for _ in range(rng.randint(0, 8)):
            k = rng.randint(0, len(b))
            if rng.random() < 0.5:
                b.insert(k, rng.choice("abcxyz"))
            elif b:
                del b[min(k, len(b) - 1)]
        diff = unified_diff(a, b, "a", "b")
        assert (diff == []) == (a == b)
        if diff:
            assert _patch(a, diff) == b
        blocks = matching_blocks(a, b)
        assert blocks[-1] == (len(a), len(b), 0)
        assert all(a[i : i + n] == b[j : j + n] for i, j, n in blocks)
