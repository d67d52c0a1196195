"""The runtime model: what serving loads and calls on every lead.

The scorer and everything it holds (rule baseline, encoders, combiner, policy, explanations), the
model directory it travels in, and its MLflow face. Nothing here imports the training job
(:mod:`leadscore.training.job`); a test holds it, so that a service can run a model without the
code that fitted it.
"""
