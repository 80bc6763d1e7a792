"""Benchmarks of the CSMS as users run it (``csms serve``), driven by ``charger-sim fleet``.

``make bench`` runs the full set and writes a JSON and a Markdown report to ``bench/results/``;
``make bench-smoke`` runs every benchmark at a tiny size. See ``bench/README.md``.
"""
