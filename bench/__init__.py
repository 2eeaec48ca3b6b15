"""OCR benchmark: scan-like pages with ground truth, our engine and Tesseract side by side."""
