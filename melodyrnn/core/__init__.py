"""The data model: notes, melodies, keys, meters and raw scores. No I/O, no torch, no music21."""
