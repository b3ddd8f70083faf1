"""Resolve references to re-exported names on the page of the object they name.

sklearn_lt exports some objects under several names (``sklearn_lt.CRTClassifier`` is
``sklearn_lt.heads.CRTClassifier``; ``sklearn_lt.nn.FocalLoss`` is
``sklearn_lt.losses.FocalLoss``; ``Backbone`` lives in ``sklearn_lt.backbone`` and at the
top level). docs/api.rst documents each object once, under one name; documenting it
again would warn about duplicate object descriptions. A reference to another of its
names, e.g. ``:class:`~sklearn_lt.nn.LossSpec``` or ``:class:`LossSpec``` written in
``sklearn_lt.nn``, would then not resolve, and with ``nitpicky`` the build fails. This
extension imports the referenced name, finds which documented name is the same object
and resolves the reference to it. A name that is not a documented object under any
name still fails the build.
"""

import importlib

_MISSING = object()
_SCALARS = (str, bytes, int, float, complex, bool, type(None))


def _lookup(path):
    """The object at dotted ``path`` (a module, then attributes), or ``_MISSING``."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except Exception:  # any failure means: not this prefix
            continue
        for attr in parts[i:]:
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                return _MISSING
        return obj
    return _MISSING


def _key(obj):
    """Identity of ``obj`` that survives re-binding (a classmethod is re-bound per access)."""
    if obj is _MISSING or isinstance(obj, _SCALARS):
        return None
    return id(getattr(obj, "__func__", obj))


_cache = {}


def _documented(env):
    """``{object identity: documented name}`` of the sklearn_lt objects in the py domain."""
    objects = env.get_domain("py").objects
    if _cache.get("size") != len(objects):
        names = {}
        for name, entry in sorted(objects.items()):
            if name.startswith("sklearn_lt") and not entry.aliased:
                key = _key(_lookup(name))
                if key is not None:
                    names.setdefault(key, name)
        _cache.update(size=len(objects), names=names)
    return _cache["names"]


def _candidates(node):
    target = node["reftarget"].lstrip(".~")
    module, cls = node.get("py:module"), node.get("py:class")
    out = [target] if target.startswith("sklearn_lt") else []
    if module and cls:
        out.append(f"{module}.{cls}.{target}")
    if module:
        out.append(f"{module}.{target}")
    return out


def resolve_alias(app, env, node, contnode):
    """``missing-reference`` handler: retry under the documented name of the same object."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    documented = _documented(env)
    for path in _candidates(node):
        parts = path.split(".")
        # Longest prefix first: "sklearn_lt.CRTClassifier.fit" becomes
        # "sklearn_lt.heads.CRTClassifier.fit", the method on its own class's page.
        for i in range(len(parts), 0, -1):
            name = documented.get(_key(_lookup(".".join(parts[:i]))))
            if name is None:
                continue
            new_target = ".".join([name, *parts[i:]])
            if new_target not in domain.objects:
                continue
            new_node = node.deepcopy()
            new_node["reftarget"] = new_target
            new_node.attributes.pop("refspecific", None)
            return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                       new_target, new_node, contnode)
    return None


def setup(app):
    app.connect("missing-reference", resolve_alias)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
