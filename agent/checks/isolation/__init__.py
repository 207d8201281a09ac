"""The isolation check and its helpers."""
