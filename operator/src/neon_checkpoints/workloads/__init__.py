"""Capture and roll back the app's code state (Deployments, StatefulSets, ConfigMaps) with its database."""
