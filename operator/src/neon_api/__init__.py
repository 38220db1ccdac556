"""Neon API v2 client: sync and async over httpx, typed models, one error tree, operation waiting."""
