"""Meters: small measurement helpers that wrap requests and cells (latency, memory, energy, host)."""
