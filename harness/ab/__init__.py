"""``tierbench ab``: the baseline configuration and the candidate measured in one job on one machine.

``sides.py`` says what each side runs (a baseline file's pinned configuration, or two catalogs),
``schedule.py`` interleaves their blocks (A B B A ...), ``blocks.py`` runs each block through the
ordinary run pipeline into a short run directory, ``merge.py`` joins each side's blocks into one
snapshot with the block pair of every request, and the gate judges them with paired block
differences (``harness.results.measure.measure_paired_blocks``).
"""
