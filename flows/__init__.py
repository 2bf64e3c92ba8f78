"""Prefect flows: pipelines that chain the tasks; the parent flow is `pro_voice_clone`."""
