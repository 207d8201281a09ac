"""The self-inspection report (自查报告): periods, figures from the store, sign-off, rendering.
May import store, policy, audit, authz and errors.
"""
