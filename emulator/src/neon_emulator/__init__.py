"""A local Neon API v2 emulator backed by real PostgreSQL. Never imports neon_api."""
