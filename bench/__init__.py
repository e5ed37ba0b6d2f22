"""Side-by-side benchmarks, run by ``make bench`` (never by ``make test``)."""
