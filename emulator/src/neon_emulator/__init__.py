"""A local Neon API v2 emulator backed by real PostgreSQL. Never imports neon_api.

model/    the records and every resource's decisions, without I/O (raises EmulatorError)
api/      aiohttp: middleware and admin routes (app), request parsing (bodies), JSON shapes (views), and
          routes/ one module per Neon resource that parses, calls the model and serializes
engine/   runs the model's operations as typed jobs on postgres servers and storage; saves the state
storage/  the clusters of branches and snapshots, behind one interface (btrfs or copy driver)
faults.py fault injection, used by both the api (answers, latency) and the engine (failing operations)
server.py wiring and lifetime; cli.py the command line
"""
