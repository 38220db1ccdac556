"""The engine: runs the model's operations as jobs on real postgres servers and storage, saves the state."""
