"""The antivirus check and its helpers."""
