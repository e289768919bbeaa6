"""Metrics: passes over a finished graph (cost sums, receptive fields, footprints) and the reports built
from them. Views only read what these compute."""
