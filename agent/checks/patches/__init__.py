"""The patches check and its helpers."""
