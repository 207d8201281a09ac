"""The rectification register (整改台账): findings, their lifecycle, deadlines, waivers.
May import rules, policy, notify, store, errors and hostpatrol.shared.
"""
