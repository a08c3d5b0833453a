"""Datasets (`melodyrnn prepare`): recipes and sources, melody extraction, transposition,
splits, the extraction cache, token shards and the build that writes them."""
