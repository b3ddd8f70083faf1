"""scikit-learn's estimator checks for every stage-2 head."""

import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_lt.heads import (
    CRTClassifier,
    LogitAdjustedClassifier,
    LWSClassifier,
    NCMClassifier,
    TauNormClassifier,
)

# Short SGD runs keep the checks fast; the defaults (10 and 5 epochs of
# batch 512) would also pass.
HEADS = [
    CRTClassifier(),
    CRTClassifier(solver="sgd", epochs=3, batch_size=64, random_state=0),
    NCMClassifier(),
    NCMClassifier(metric="cosine", normalize=None),
    TauNormClassifier(),
    LWSClassifier(epochs=3, batch_size=64, random_state=0),
    LogitAdjustedClassifier(),
]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # Tiny problems: extra intra-op threads only add contention.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# No expected failures: every head passes every check.
@parametrize_with_checks(HEADS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
