"""Fitting and judging lead scorers, in two rooms.

:mod:`leadscore.training.model` is the runtime model that serving loads (scorer, rules,
encoders, combiner, policy, explanations, the model directory); :mod:`leadscore.training.job`
is the job that fits and judges it. The job imports the model; the model never imports the job.
"""
