"""logs: the check, reading files and journald from a saved position, parsers and tallies.
May import ..base and the agent's commands.
"""
