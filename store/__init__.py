"""Where results and files are kept: the live DuckDB behind its lock, the analysts' snapshot,
the schema and its migrations, the results spool of remote workers, and the hot folder's
folders on disk (claims, placement, quarantine). No Prefect here: callers pass run ids in.
"""
