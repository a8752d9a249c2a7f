"""Test doubles: tiny random-weight checkpoints built locally, for the tests, the demo and the benchmarks (never the adapter)."""
