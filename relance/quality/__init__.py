"""Customer data quality (issue 19, C3): duplicates and merges, contact validation, returned mail,
the data-quality score and its fix list. See docs/data-quality.md."""
