"""Model runtimes behind one contract; see ``base.Backend``, ``plugin.BackendPlugin`` and ``registry``."""
