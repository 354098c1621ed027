"""The root of dicomqr's exceptions; each layer subclasses it.

Errors name the culprit: a *local* error is a misuse by the code that called
us, a *remote* error is the peer's fault.  Protocol errors carry the wire
answer (the A-ABORT source/reason or the A-ASSOCIATE-RJ triple) so that the
layer that catches them knows what to send.
"""

from __future__ import annotations


class DicomqrError(Exception):
    """Base of every exception raised by dicomqr."""
