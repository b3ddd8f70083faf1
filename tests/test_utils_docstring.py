"""Shared parameter text is substituted into the estimators' docstrings.

The decorator that does it (``Substitution``) is not public; its effect is
checked on the docstrings it produced.
"""

import re

import pytest
from numpydoc.docscrape import ClassDoc

from sklearn_lt.base import JOINT_HEAD_PARAMS_DOC, SGD_PARAMS_DOC
from sklearn_lt.heads import CRTClassifier, LWSClassifier, TauNormClassifier
from sklearn_lt.utils.discovery import all_estimators


@pytest.mark.parametrize("name, cls", all_estimators(), ids=lambda v: getattr(v, "__name__", v))
def test_no_placeholder_is_left(name, cls):
    # A placeholder alone on its line that was not substituted would read "{name}".
    assert not re.search(r"^\s*\{\w+\}\s*$", cls.__doc__, re.M), name


@pytest.mark.parametrize("cls, block", [(CRTClassifier, SGD_PARAMS_DOC),
                                        (LWSClassifier, SGD_PARAMS_DOC),
                                        (LWSClassifier, JOINT_HEAD_PARAMS_DOC),
                                        (TauNormClassifier, JOINT_HEAD_PARAMS_DOC)])
def test_shared_block_is_inserted_with_the_placeholder_indentation(cls, block):
    # The block is written unindented; every non-empty line lands 4 spaces in,
    # like the rest of the Parameters section, blank lines stay blank.
    expected = "\n".join("    " + line if line else line for line in block.strip("\n").split("\n"))
    assert expected in cls.__doc__


def test_substituted_parameters_are_parsed_in_signature_order():
    documented = [p.name for p in ClassDoc(TauNormClassifier)["Parameters"]]
    assert documented == ["tau", "joint_head", "C", "max_iter", "tol", "memory", "device",
                          "n_threads"]
    documented = [p.name for p in ClassDoc(CRTClassifier)["Parameters"]]
    assert documented[:6] == ["solver", "C", "max_iter", "tol", "epochs", "batch_size"]
    assert documented[-2:] == ["memory", "stochastic"]


def test_other_braces_are_left_alone():
    # Only the named placeholders are replaced: set-like type lines keep their braces.
    assert '{"lbfgs", "sgd"}' in CRTClassifier.__doc__
    sampler_type = 'sampler : {"class", "instance", "sqrt", "progressive"} or float'
    assert sampler_type in CRTClassifier.__doc__
