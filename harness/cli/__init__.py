"""The ``tierbench`` command line: one module per command, joined in ``main``."""
