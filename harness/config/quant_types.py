"""The GGUF file types a ladder may name (with llama.cpp's ``llama_ftype`` numbers), and how their precision ranks.

``nominal_bpw`` (bits per weight of the main tensors) only ranks precision; a file's real figure is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import UserError


@dataclass(frozen=True)
class QuantType:
    name: str
    ftype: int
    nominal_bpw: float

    @property
    def slug(self) -> str:
        """Lower-case form used in rung names (``mini-q4_k_m``)."""
        return self.name.lower()


_TYPES = (
    QuantType("F32", 0, 32.0),
    QuantType("F16", 1, 16.0),
    QuantType("BF16", 32, 16.0),
    QuantType("Q8_0", 7, 8.5),
    QuantType("Q6_K", 18, 6.5625),
    QuantType("Q5_1", 9, 6.0),
    QuantType("Q5_K_M", 17, 5.69),
    QuantType("Q5_0", 8, 5.5),
    QuantType("Q5_K_S", 16, 5.54),
    QuantType("Q4_1", 3, 5.0),
    QuantType("Q4_K_M", 15, 4.89),
    QuantType("Q4_K_S", 14, 4.58),
    QuantType("Q4_0", 2, 4.5),
    QuantType("IQ4_NL", 25, 4.5),
    QuantType("IQ4_XS", 30, 4.25),
    QuantType("Q3_K_L", 13, 4.27),
    QuantType("Q3_K_M", 12, 3.91),
    QuantType("Q3_K_S", 11, 3.5),
    QuantType("Q2_K", 10, 3.0),
    QuantType("Q2_K_S", 21, 2.9),
)
BY_NAME = {t.name: t for t in _TYPES}
BY_FTYPE = {t.ftype: t for t in _TYPES}
UNQUANTIZED = frozenset({"F32", "F16", "BF16"})
# Types that need an importance matrix (IQ1/IQ2/IQ3) are left out: tierbench does not make one.
DERIVABLE = tuple(t.name for t in _TYPES if t.name not in UNQUANTIZED)


def parse_type(name: str, where: str = "--types") -> QuantType:
    """A target type by name (case-insensitive); a one-line error lists the valid ones."""
    found = BY_NAME.get(name.strip().upper())
    if found is None or found.name not in DERIVABLE:
        raise UserError(f"{where}: unknown quantization type '{name}' (valid: {', '.join(DERIVABLE)})")
    return found


def type_of_ftype(ftype: int) -> QuantType | None:
    """The type llama.cpp's ``general.file_type`` value stands for (1024 is its 'guessed' flag)."""
    return BY_FTYPE.get(ftype & ~1024)
