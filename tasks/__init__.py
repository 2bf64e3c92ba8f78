"""Prefect tasks: one per pipeline step, each a thin shell over a function in `provoice`."""
