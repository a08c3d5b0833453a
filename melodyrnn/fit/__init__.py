"""Training with Lightning: the data module over token shards, the LightningModule (loss,
metrics, clipping, truncated BPTT) and the LightningCLI behind `melodyrnn fit`."""
