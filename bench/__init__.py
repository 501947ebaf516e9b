"""Benchmarks (``make bench``): each module prints its figure beside a baseline measured in the same run."""
