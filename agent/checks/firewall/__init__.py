"""The firewall check and its helpers."""
