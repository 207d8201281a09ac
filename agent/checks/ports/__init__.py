"""The ports check and its helpers."""
