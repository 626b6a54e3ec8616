"""Benchmarks of the bridge: N simulated satellites streaming through it to the emulator (see README.md)."""
