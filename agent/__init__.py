"""The hostpatrol agent: runs checks on a host, signs, spools and delivers the results.
May import hostpatrol.shared and its own modules; never hostpatrol.collector.
"""

from hostpatrol.shared import __version__

__all__ = ["__version__"]
