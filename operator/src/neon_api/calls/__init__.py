"""Every Neon API call, written once as a sans-I/O exchange (see `neon_api.protocol`)."""
