"""Policy as data: the YAML rules, their validation and their stored versions.
May import store and hostpatrol.shared.
"""
