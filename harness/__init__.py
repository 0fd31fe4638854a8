"""tierbench: which model tier (nano, mini, full) should run this workload on this hardware."""

__version__ = "0.1.0"
