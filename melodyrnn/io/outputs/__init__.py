"""Writers, one module per format: each turns a Melody into a file (MIDI, MusicXML, ABC,
score images, audio) or a notebook view."""
