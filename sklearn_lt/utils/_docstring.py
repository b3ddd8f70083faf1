"""Docstring substitution for parameter text shared by several estimators."""

import textwrap


class Substitution:
    """Class or function decorator filling ``{name}`` placeholders of a docstring.

    In the spirit of imbalanced-learn's ``Substitution``: text shared by
    several estimators (the joint-head parameters, the SGD parameters) is
    written once and placed in each docstring where ``{name}`` stands alone on
    its line. Only the given names are replaced, so other braces in the
    docstring (``{"class", "instance"}`` in a type line) are left alone, and
    each inserted line after the first is indented like the placeholder.

    Parameters
    ----------
    **params : str
        Placeholder name -> text. The text's first line follows the
        placeholder's indentation; it should be written with no indentation
        of its own (``textwrap.dedent`` is applied).

    Examples
    --------
    >>> from sklearn_lt.utils._docstring import Substitution
    >>> @Substitution(shared="x : int\\n    The x.")
    ... def f(x):
    ...     '''Do nothing.
    ...
    ...     Parameters
    ...     ----------
    ...     {shared}
    ...     '''
    >>> print(f.__doc__.splitlines()[4])
        x : int
    """

    def __init__(self, **params):
        self.params = {k: textwrap.dedent(v).strip("\n") for k, v in params.items()}

    def __call__(self, obj):
        doc = obj.__doc__
        if doc is None:  # python -OO strips docstrings
            return obj
        lines = []
        for line in doc.split("\n"):
            key = line.strip()
            if key.startswith("{") and key.endswith("}") and key[1:-1] in self.params:
                indent = line[: len(line) - len(line.lstrip())]
                text = self.params[key[1:-1]]
                lines.extend(indent + t if t else t for t in text.split("\n"))
            else:
                lines.append(line)
        obj.__doc__ = "\n".join(lines)
        return obj
