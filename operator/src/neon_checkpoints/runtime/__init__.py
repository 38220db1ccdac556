"""The I/O edges every kind uses: the Kubernetes client, Neon clients by credentials, the meta store, status
writing, error translation, and the flow base that holds a project's lock."""
