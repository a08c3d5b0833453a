"""Readers, one module per format: each turns a file (or typed text) into Scores or Melodies."""
