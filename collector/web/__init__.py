"""The dashboard: server-rendered pages, reports, accounts and the audit log (one blueprint).
May import every collector package but api and cli (of intake only identity).
"""
