"""speech app of the FFN study (work in progress: see the issue tracker)."""
