"""Settling a project's in-flight work after a crash, from Neon's record, before a flow mutates it."""
