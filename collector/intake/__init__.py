"""A report's way in: enroll, admission, batcher, ingest (trust, throttle, agent_ops, clock),
checkin, agent_auth, policy_feed, rotation; importer for carried files; identity's keys.
May import store, findings, policy, rules, errors, metrics, hostpatrol.shared; not api, cli, web.
"""
