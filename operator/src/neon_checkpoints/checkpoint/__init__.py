"""Checkpoint: "snapshot this app's branch now" (spec, pure plan, flow, expiry, kopf handlers)."""
