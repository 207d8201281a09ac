"""The logs check and its helpers."""
