"""antivirus: the check, per-product gathering, host accessors, ClamAV and Microsoft parsers.
May import ..base, the agent's commands and hostpatrol.shared.
"""
