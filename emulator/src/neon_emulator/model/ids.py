"""Identifiers in Neon's formats: `adj-noun-12345678` projects, `br-adj-noun-a1b2c3d4` and the like for
children, UUIDs for operations."""

from __future__ import annotations

import random
import secrets
import string
import uuid

_ADJECTIVES_TEXT = """
autumn billowing bold broad calm cold cool crimson damp dark divine dry falling floral gentle green
hidden holy icy late lingering little lively long misty morning muddy noisy old orange patient plain
polished proud purple quiet rapid red restless rough round royal shiny shy silent small snowy soft
solitary sparkling spring still summer super sweet tight tiny twilight wandering weathered white
wild winter wispy withered young
"""
ADJECTIVES = tuple(_ADJECTIVES_TEXT.split())
_NOUNS_TEXT = """
art band bar base bird block boat bonus bread breeze brook bush butterfly cake cell cherry cloud
credit darkness dawn dew disk dream dust feather field fire firefly flower fog forest frog frost
glade glitter grass hall hat haze heart hill king lab lake leaf limit math meadow mode moon morning
mountain mouse mud night paper pine poetry pond queen rain recipe resonance rice river salad scene
sea shadow shape silence sky smoke snow snowflake sound star sun sunset surf term thunder tooth tree
truth union unit violet voice water waterfall wave wildflower wind wood
"""
NOUNS = tuple(_NOUNS_TEXT.split())
_ALNUM = string.ascii_lowercase + string.digits
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


class IdGenerator:
    """Random ids; a seed makes them reproducible (callers retry on the rare collision)."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed) if seed is not None else random.SystemRandom()

    def _words(self) -> str:
        return f"{self._rng.choice(ADJECTIVES)}-{self._rng.choice(NOUNS)}"

    def project(self) -> str:
        return f"{self._words()}-{self._rng.randrange(10**7, 10**8)}"

    def child(self, prefix: str) -> str:
        """`br`, `ep` or `snap` followed by two words and 8 lowercase alphanumerics."""
        tail = "".join(self._rng.choice(_ALNUM) for _ in range(8))
        return f"{prefix}-{self._words()}-{tail}"

    def operation(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def new_password() -> str:
    """Always from `secrets`, never from the seeded generator."""
    return "npg_" + "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(12))
