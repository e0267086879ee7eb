"""Per-family fixture writers for make_corpus.py (one module per plugin)."""
