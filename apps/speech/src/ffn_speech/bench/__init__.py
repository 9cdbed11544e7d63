"""Experiments of the speech app (``ffn-speech bench*``); the library modules import nothing from here."""
