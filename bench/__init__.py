"""Benchmarks of Frontline (``make bench``): figures and ratios against naive baselines."""
