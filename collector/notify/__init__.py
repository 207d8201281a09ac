"""Notifications: the outbox, email (SMTP) and chat webhooks."""
