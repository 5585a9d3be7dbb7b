"""swsearch benchmarks: quality, speed and index types, rerunnable with one command (python -m benchmarks)."""
