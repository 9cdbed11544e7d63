"""Experiments of the vision app (``ffn-vision bench*``); the library modules import nothing from here."""
