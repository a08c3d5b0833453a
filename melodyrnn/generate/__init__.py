"""Generation: a trained model with its tokenizer (`MelodyModel`), sampling settings,
grammar and constraint masks, the batched sampler and beam search."""
