"""Shared Lightning glue for the FFN apps."""
