"""The HTTP layer: the aiohttp application and its middleware, the admin routes, and the Neon API v2 routes
that parse requests, call the model and serialize its records."""
