"""patches: the check, its normalized model and the apt, rpm, Windows and macOS backends.
May import ..base, the agent's commands and hostpatrol.shared.
"""
