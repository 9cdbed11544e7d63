"""The shared benchmarks: ``ffn-bench`` (the study), ``ffn-bench-blocks``, ``-spectral``, ``-allocator``.

The library modules import nothing from here.
"""
