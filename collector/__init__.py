"""The hostpatrol collector: intake, api, cli and web over findings, rules, policy and store.
May import hostpatrol.shared and its own packages; never hostpatrol.agent.
"""
