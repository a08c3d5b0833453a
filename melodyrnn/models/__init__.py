"""The network and what it is shared as: `MelodyLSTM`, likelihood figures, model bundles."""
