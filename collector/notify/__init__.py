"""Notifications: the outbox, email (SMTP) and chat webhooks.
May import policy, store and errors.
"""
