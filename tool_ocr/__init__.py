"""Tool_OCR: hot-folder OCR pipeline on Prefect, PaddleOCR and DuckDB."""
