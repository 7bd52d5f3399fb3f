"""The base of every error layerflow raises on bad input.

Every error class of the library (``TrajectoryError``, ``DatasetError``, ``RicciInputError``,
``ConfigError``, ...) derives from :class:`LayerflowError`, itself a ``ValueError``: a caller can
catch all of them with one ``except lf.LayerflowError`` (or, as before, ``except ValueError``).
Messages repeat the bad value and say what was expected.
"""

from __future__ import annotations

__all__ = ["LayerflowError"]


class LayerflowError(ValueError):
    """Bad input to layerflow: the message names the value and what was expected."""
