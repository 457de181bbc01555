"""Real-time analytics lakehouse: PyFlink jobs writing Delta Lake tables."""

__version__ = "0.1.0"
