"""The core of the city-service bot."""

__version__ = "0.1.0"
