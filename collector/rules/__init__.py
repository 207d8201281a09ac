"""Rules: pure functions from (rule, host facts, results, baseline, now) to deviations."""
