"""The ground every layer stands on: settings, errors, the values passed between steps, logging.

Imports nothing of ours and nothing of Prefect, DuckDB or Paddle.
"""
