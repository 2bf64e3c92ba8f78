"""Pro voice clones: lifecycle, voices and what a user sees of them."""
