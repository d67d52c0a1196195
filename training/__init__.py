"""Fitting and judging scorers: rule baseline, models, combiner, calibration, thresholds."""
