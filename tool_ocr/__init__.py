"""Tool_OCR's app: the `tool-ocr` command line, the one-machine service (`up`) and `status`.

The only layer that imports every other one (see the layout map in the README).
"""
