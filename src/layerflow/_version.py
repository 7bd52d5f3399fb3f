"""The package version (modules inside the package import it from here, never from ``__init__``)."""

__version__ = "0.1.0"
