"""Quantization ladders: one model at many bit widths, derived with llama.cpp's quantizer and
measured as ordinary tiers (docs/quantization.md)."""
