"""time (package timesync): the check and pure parsers of the time-sync tools' output.
May import ..base and the agent's commands.
"""
