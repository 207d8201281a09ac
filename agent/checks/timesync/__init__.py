"""The timesync check and its helpers."""
