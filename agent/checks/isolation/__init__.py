"""isolation: the check, its network side (routes, NICs, egress probe) and USB storage side.
May import ..base and the agent's commands.
"""
