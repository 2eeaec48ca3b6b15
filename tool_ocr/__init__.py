"""Tool_OCR: hot-folder OCR pipeline on Prefect, PaddleOCR and DuckDB."""

# Our packages, whose loggers Prefect must carry to its UI (PREFECT_LOGGING_EXTRA_LOGGERS).
PACKAGES = ("tool_ocr", "tasks", "flows", "watch", "deployments")
