"""Benchmarks: neurona vs PyTorch (CPU) on the networks of the source documents.

Run ``python -m benchmarks run all --vs torch`` (see ``python -m benchmarks --help``).
Not part of the installed package and not tests: timings are printed, never asserted.
This module must stay import-light (no NumPy) so the runner can pin BLAS threads first.
"""
