"""Experiments of the graphs app (``ffn-graphs bench*``); the library modules import nothing from here."""
