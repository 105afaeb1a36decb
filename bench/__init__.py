"""guestwall's benchmarks (issue 5): programming time, kernel size, data path and CLI start-up, each figure
next to a baseline measured in the same run. Entry point: ``python -m bench [--quick] [--out DIR]``.

Everything runs in network namespaces the benchmark creates and removes itself; see docs/performance.md.
"""
