"""Wire format and crypto shared by the hostpatrol agent and collector."""

__version__ = "0.1.0"
