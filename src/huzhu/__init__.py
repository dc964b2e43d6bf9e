"""huzhu (互助): a transparent, zero-profit online mutual-aid platform."""

__version__ = "0.1.0"
