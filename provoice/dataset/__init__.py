"""Datasets: ingesting uploads, the per-file preparation steps and the dataset outputs."""
