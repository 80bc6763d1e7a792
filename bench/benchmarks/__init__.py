"""The four benchmarks; each module has ``NAME``, ``TITLE``, ``HOW``, ``METRICS``, ``cases``
and ``measure`` (see :mod:`bench.runner`)."""
