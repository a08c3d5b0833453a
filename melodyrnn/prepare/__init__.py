"""Datasets (`melodyrnn prepare`): recipes and sources, melody extraction, transposition,
splits, the extraction cache, token shards and the build that writes them (in two passes
over a spool and a tune index on disk, so memory stays flat with the corpus size)."""
