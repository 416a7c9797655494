"""The batch engine: Ibis expressions over unbound schemas, bound to a backend at run time.

Never imports Django. The app database (SQLite/PostgreSQL), DuckDB over Parquet, or Spark all
run the same expressions.
"""
