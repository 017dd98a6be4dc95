"""Helpers shared by the tests and benchmarks of several components."""
