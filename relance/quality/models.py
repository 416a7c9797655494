"""Data-quality tables (issue 19)."""
