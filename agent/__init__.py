"""The hostpatrol agent: runs checks on a host, signs and delivers the results."""

from hostpatrol.shared import __version__

__all__ = ["__version__"]
