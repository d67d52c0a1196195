"""The file MLflow runs to build the pyfunc model, when it logs it and when it loads it.

Why a file and not the object: MLflow ("models from code",
https://mlflow.org/docs/latest/ml/model/models-from-code/) stores the code that makes the
model instead of a CloudPickle of it, so loading runs reviewed code rather than deserialising
bytes, and no train prints MLflow's warning about pickled objects. The model itself is
:class:`leadscore.training.model.pyfunc.LeadScorerModel`; its artifacts (the model directory)
are passed beside this file. Importing it registers the model with MLflow (``set_model``):
that is what the file is for, so nothing but MLflow should import it.
"""

from mlflow.models import set_model

from leadscore.training.model.pyfunc import LeadScorerModel

set_model(LeadScorerModel())
