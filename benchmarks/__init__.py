"""Benchmarks of epmm-async: ``python -m benchmarks [name ...]`` (or ``make bench``).

Every figure is a ratio against a baseline measured in the same process, in the same run,
over several rounds; the median ratio and its spread (min-max) are reported. See
``docs/benchmarks.md``.
"""
