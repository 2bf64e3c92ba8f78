"""Per-segment quality checks; each rejection carries a specific, readable reason."""
