"""``hostpatrol-collector``: main (parser, set-up), agents, policy and report; context shared.
May import any collector package; nothing imports it; the command modules share only context.
"""

from .main import main

__all__ = ["main"]
