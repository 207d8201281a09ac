"""accounts: the check, pure parsers of Linux account files and of the Windows sources.
May import ..base, the agent's commands, antivirus.windows (a time parser), hostpatrol.shared.
"""
