"""ports: the check, Linux listeners from /proc/net and parsers of the Windows sources.
May import ..base and the agent's commands.
"""
