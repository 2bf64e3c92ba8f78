"""Pro voice clones: their states (`status`), the only code that changes them (`transitions`),
leases and the reaper (`lifecycle`), voices, retrains and what a user sees of them. Kept free of
imports, so that the catalog can take `PvcStatus` from `status` without a cycle."""
