"""Synthetic receivables ledgers for demos, tests and benchmarks. Pure: numpy and pyarrow only."""
