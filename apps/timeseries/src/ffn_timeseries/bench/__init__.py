"""Experiments of the timeseries app (``ffn-timeseries bench``).

The library modules import nothing from here.
"""
