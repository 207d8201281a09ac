"""Wire format and crypto shared by the hostpatrol agent and collector.
May import third-party libraries only; never hostpatrol.agent or hostpatrol.collector.
"""

__version__ = "0.1.0"
