"""The accounts check and its helpers."""
