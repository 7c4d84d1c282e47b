"""SGraph Send Desktop: zero-knowledge encrypted file sending."""
__version__ = "0.1.0"
