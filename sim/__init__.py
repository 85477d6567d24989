"""Simulated point-of-sale traffic for the demo, the tests and the benchmark."""
