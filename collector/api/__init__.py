"""The HTTP API: routes and their OpenAPI pieces side by side; base holds what all share.
May import intake, findings, policy, reports, store, audit, authz, errors, metrics; not cli, web.
"""
