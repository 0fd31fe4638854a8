"""``tierbench ab``: the baseline configuration and the candidate measured in one job on one machine.

``sides.py`` says what each side runs, ``schedule.py`` interleaves their blocks (A B B A ...) and
``merge.py`` joins each side's blocks into one snapshot that the gate judges with paired block
differences (``harness.results.measure.measure_paired_blocks``); harness/cli/ab.py runs the blocks.
"""
