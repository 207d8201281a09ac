"""Rules: pure functions from (rule, host facts, results, baseline, now) to deviations.
May import policy (its rule shapes) only: no store, no I/O.
"""
