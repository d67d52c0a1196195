"""The training job: what fits and judges a runtime model, and is never loaded to serve one.

From a training set (or an export, prepared) to a fitted :mod:`leadscore.training.model`
scorer: hyperparameter search, evaluation on the untouched test period, capacity-tuned
thresholds, rule suggestions and the MLflow run that records it all.
"""
