"""Plan cells (model x profile), run each in a fresh subprocess, collect the tables."""
