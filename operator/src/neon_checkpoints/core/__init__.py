"""Pure values and decisions every kind shares. Nothing here imports kopf, kubernetes, httpx or psycopg."""
