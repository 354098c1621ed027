"""The ``dicomqr`` command line."""
