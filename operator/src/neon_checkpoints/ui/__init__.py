"""`neon-checkpoints ui`: a local web page of each app's checkpoint timeline, with preview, restore and undo
done with the user's own Kubernetes permissions (model and layout are pure; app.py is the aiohttp shell)."""
