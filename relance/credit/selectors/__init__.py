"""Reads of the credit app, one module per area; every read is scoped to an entity."""
