"""Experiments of the fields app (``ffn-fields bench-*``); the library modules import nothing from here."""
