"""The suite's only importer of skops: review a ``.skops`` file before anything in it is built.

A skops file is a zip holding ``schema.json``, a tree of nodes that each name the Python object
to build (``__module__`` + ``__class__``) and how (``__loader__``), plus ``.npy`` arrays. Loading
it imports those names and calls them, so the file decides what runs. Trust is therefore an
explicit allow-list of *exact* names, never a module prefix: ``sklearn.utils._testing`` imports
``subprocess.check_output``, so the string ``sklearn.utils._testing.check_output`` is a shell
command although it starts with ``sklearn.``. Every name below was reviewed to resolve to the
object it names (a test imports each one and checks its canonical name), so no alias can be
smuggled in under a trusted string.

Three gates, in order:

1. :func:`review`, static: reads ``schema.json`` as JSON, imports and builds nothing. Every node
   must use a known loader, and its name must be on the list for that kind of node: classes
   for objects, plain data types for data nodes, a short list of pure numpy functions for
   function nodes, scalar types for type nodes. Bound methods, ``functools.partial``,
   ``operator`` callables and constructor calls are never trusted by default. Zip size and
   entry limits are checked before anything is decompressed.
2. skops' own audit (``get_untrusted_types``), whose every entry must also pass gate 1; the
   file is then loaded with ``trusted=`` exactly that reviewed list, as skops documents.
3. :func:`validate`, on the built object before it is used: decision trees and histogram
   gradient-boosting predictors must have child and feature indices inside their arrays (a
   crafted tree otherwise crashes the process, which is why skops does not trust
   ``sklearn.tree._tree.Tree`` by default), and no instance attribute may shadow a method of
   its class (a ``predict_proba`` set on the instance would run instead of the real one).

A user who needs a name outside the list passes it with ``trust=`` (``--trust TYPE`` on the
command line, ``model.trust`` in a config); the loaded model records what was widened.
"""

from __future__ import annotations

import inspect
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rai_audit.models.errors import CheckpointError

MAX_SCHEMA_BYTES = 64 * 2**20
MAX_UNPACKED_BYTES = 4 * 2**30
MAX_RATIO = 200  # unpacked bytes per packed byte, beyond the first MAX_SCHEMA_BYTES
MAX_ENTRIES = 200_000
MAX_NODES = 2_000_000

# ------------------------------------------------------------------ the reviewed lists

#: Estimators and their fitted helpers, by canonical ``module.qualname``.
TRUSTED_CLASSES: frozenset[str] = frozenset(
    {
        # linear models, SVMs, naive Bayes, discriminant analysis
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._logistic.LogisticRegressionCV",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.linear_model._ridge.RidgeClassifier",
        "sklearn.linear_model._ridge.RidgeClassifierCV",
        "sklearn.linear_model._perceptron.Perceptron",
        "sklearn.svm._classes.SVC",
        "sklearn.svm._classes.NuSVC",
        "sklearn.svm._classes.LinearSVC",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.naive_bayes.BernoulliNB",
        "sklearn.naive_bayes.MultinomialNB",
        "sklearn.naive_bayes.ComplementNB",
        "sklearn.naive_bayes.CategoricalNB",
        "sklearn.discriminant_analysis.LinearDiscriminantAnalysis",
        "sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis",
        "sklearn.neighbors._classification.KNeighborsClassifier",
        "sklearn.neighbors._nearest_centroid.NearestCentroid",
        "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.dummy.DummyClassifier",
        # trees and ensembles (Tree and TreePredictor are bounds-checked by validate())
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._classes.ExtraTreeClassifier",
        "sklearn.tree._classes.ExtraTreeRegressor",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._bagging.BaggingClassifier",
        "sklearn.ensemble._weight_boosting.AdaBoostClassifier",
        "sklearn.ensemble._voting.VotingClassifier",
        "sklearn.ensemble._stacking.StackingClassifier",
        # losses and links of the boosting models and SGD
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.ExponentialLoss",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.HalfLogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyExponentialLoss",
        # calibration and multi-class wrappers
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.isotonic.IsotonicRegression",
        "sklearn.multiclass.OneVsRestClassifier",
        "sklearn.multiclass.OneVsOneClassifier",
        "sklearn.model_selection._classification_threshold.FixedThresholdClassifier",
        # preprocessing, pipelines and feature selection
        "sklearn.pipeline.Pipeline",
        "sklearn.pipeline.FeatureUnion",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._data.MinMaxScaler",
        "sklearn.preprocessing._data.MaxAbsScaler",
        "sklearn.preprocessing._data.RobustScaler",
        "sklearn.preprocessing._data.Normalizer",
        "sklearn.preprocessing._data.Binarizer",
        "sklearn.preprocessing._data.PowerTransformer",
        "sklearn.preprocessing._data.QuantileTransformer",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._encoders.OrdinalEncoder",
        "sklearn.preprocessing._target_encoder.TargetEncoder",
        "sklearn.preprocessing._discretization.KBinsDiscretizer",
        "sklearn.preprocessing._polynomial.PolynomialFeatures",
        "sklearn.preprocessing._polynomial.SplineTransformer",
        "sklearn.preprocessing._function_transformer.FunctionTransformer",
        "sklearn.preprocessing._label.LabelEncoder",
        "sklearn.preprocessing._label.LabelBinarizer",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.impute._base.MissingIndicator",
        "sklearn.decomposition._pca.PCA",
        "sklearn.decomposition._truncated_svd.TruncatedSVD",
        "sklearn.feature_selection._variance_threshold.VarianceThreshold",
        "sklearn.feature_selection._univariate_selection.SelectKBest",
        "sklearn.feature_selection._univariate_selection.SelectPercentile",
        "sklearn.feature_selection._from_model.SelectFromModel",
    }
)

#: Plain data: containers, scalars, arrays, random states, sparse matrices.
TRUSTED_DATA: frozenset[str] = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.set",
        "builtins.slice",
        "builtins.bytes",
        "builtins.bytearray",
        "builtins.str",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "collections.OrderedDict",
        "sklearn.utils._bunch.Bunch",  # a dict with attribute access
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.ma.MaskedArray",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
        "scipy.sparse._csr.csr_array",
        "scipy.sparse._csc.csc_array",
    }
    | {
        f"numpy.{t}"
        for t in (
            "bool",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "float16",
            "float32",
            "float64",
            "longdouble",
            "complex64",
            "complex128",
            "str_",
            "bytes_",
            "object_",
        )
    }
)

#: Types that may appear as values (``dtype=np.float64``): scalar types only.
TRUSTED_TYPE_VALUES: frozenset[str] = frozenset(
    {"builtins.int", "builtins.float", "builtins.str", "builtins.bool", "builtins.complex"}
    | {n for n in TRUSTED_DATA if n.startswith("numpy.") and n.count(".") == 1}
    - {"numpy.ndarray", "numpy.dtype", "numpy.object_"}
)

#: Function objects: pure element-wise numpy ufuncs (FunctionTransformer(np.log1p), ...) and
#: the default scoring functions of the feature selectors. Nothing that takes a callable,
#: touches files or evaluates code.
TRUSTED_FUNCTIONS: frozenset[str] = frozenset(
    {
        f"numpy.{f}"
        for f in (
            "log",
            "log1p",
            "log2",
            "log10",
            "exp",
            "expm1",
            "sqrt",
            "cbrt",
            "square",
            "absolute",
            "sign",
            "tanh",
            "arcsinh",
            "sin",
            "cos",
            "floor",
            "ceil",
            "rint",
        )
    }
    | {
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.chi2",
        "sklearn.feature_selection._mutual_info.mutual_info_classif",
    }
)

_DATA_LOADERS = frozenset(
    {
        "DictNode",
        "DefaultDictNode",
        "ListNode",
        "TupleNode",
        "SetNode",
        "SliceNode",
        "BytesNode",
        "BytearrayNode",
        "JsonNode",
        "NdArrayNode",
        "MaskedArrayNode",
        "DTypeNode",
        "RandomStateNode",
        "RandomGeneratorNode",
        "SparseMatrixNode",
    }
)
_OBJECT_LOADERS = frozenset({"ObjectNode", "TreeNode", "LossNode"})
#: Loaders that hand back something callable or call something while loading: only names
#: on TRUSTED_FUNCTIONS / TRUSTED_TYPE_VALUES, or named by the user, pass.
_CALLABLE_LOADERS = frozenset(
    {"FunctionNode", "TypeNode", "MethodNode", "PartialNode", "OperatorFuncNode"}
)
_CONSTRUCTOR_LOADERS = frozenset({"ConstructorFromReduceNode"})
KNOWN_LOADERS = (
    _DATA_LOADERS | _OBJECT_LOADERS | _CALLABLE_LOADERS | _CONSTRUCTOR_LOADERS | {"CachedNode"}
)

_WHAT = {
    "FunctionNode": "a function",
    "TypeNode": "a type or builtin used as a value",
    "MethodNode": "a bound method",
    "PartialNode": "a functools.partial",
    "OperatorFuncNode": "an operator callable",
    "ConstructorFromReduceNode": "a call made while loading",
}


def _default_trusted(loader: str) -> frozenset[str]:
    if loader in _DATA_LOADERS:
        return TRUSTED_DATA
    if loader in _OBJECT_LOADERS:
        return TRUSTED_CLASSES
    if loader == "FunctionNode":
        return TRUSTED_FUNCTIONS
    if loader == "TypeNode":
        return TRUSTED_TYPE_VALUES
    return frozenset()


@dataclass(frozen=True)
class SkopsReview:
    """What a skops file would build, read without building anything.

    Attributes:
        root: the top object's type name (e.g. ``sklearn.pipeline.Pipeline``).
        names: every name the file uses, sorted.
        widened: the names that passed only because the caller trusted them.
    """

    root: str
    names: tuple[str, ...]
    widened: tuple[str, ...]


def _node_name(node: dict[str, Any]) -> str:
    loader = node["__loader__"]
    module, cls = node.get("__module__"), node.get("__class__")
    if not isinstance(module, str) or not isinstance(cls, str):
        raise CheckpointError("a node names no module and class")
    if loader == "MethodNode":
        content = node.get("content")
        func = content.get("func") if isinstance(content, dict) else None
        return f"{module}.{cls}.{func}"
    if loader == "PartialNode":
        return "functools.partial"
    if loader == "OperatorFuncNode":
        return f"operator.{cls}"
    return f"{module}.{cls}"


def _nodes(schema: Any) -> Iterable[dict[str, Any]]:
    """Every node dict in the parsed schema, without recursion (depth cannot exhaust it)."""
    stack = [schema]
    seen = 0
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                seen += 1
                if seen > MAX_NODES:
                    raise CheckpointError(f"the file has more than {MAX_NODES} nodes")
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _read_schema(path: Path) -> tuple[dict[str, Any], list[str]]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"{str(path)!r} is not a readable skops file: {exc}") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise CheckpointError(
                f"{str(path)!r} holds {len(infos)} entries; a skops model has at most {MAX_ENTRIES}"
            )
        unpacked = sum(i.file_size for i in infos)
        packed = max(1, path.stat().st_size)
        if unpacked > MAX_UNPACKED_BYTES or unpacked > MAX_SCHEMA_BYTES + MAX_RATIO * packed:
            raise CheckpointError(
                f"{str(path)!r} would unpack to {unpacked / 2**20:.0f} MB from "
                f"{packed / 2**20:.1f} MB (a zip bomb?); refused"
            )
        try:
            info = zf.getinfo("schema.json")
        except KeyError as exc:
            raise CheckpointError(f"{str(path)!r} has no schema.json: not a skops file") from exc
        if info.file_size > MAX_SCHEMA_BYTES:
            raise CheckpointError(
                f"{str(path)!r}: schema.json is {info.file_size / 2**20:.0f} MB; the limit is "
                f"{MAX_SCHEMA_BYTES / 2**20:.0f} MB"
            )
        try:
            schema = json.loads(zf.read(info))
        except (ValueError, RecursionError, zipfile.BadZipFile, OSError) as exc:
            raise CheckpointError(
                f"{str(path)!r}: schema.json is not readable JSON: {exc}"
            ) from exc
        names = zf.namelist()
    if not isinstance(schema, dict) or "__loader__" not in schema:
        raise CheckpointError(f"{str(path)!r}: schema.json is not a skops object tree")
    return schema, names


def review(path: str | Path, trust: Sequence[str] = ()) -> SkopsReview:
    """Gate 1: what the file would build, checked against the lists (nothing is imported).

    Args:
        path: the ``.skops`` file.
        trust: extra exact names the caller has reviewed and trusts (as printed by a refusal).

    Raises:
        CheckpointError: the file is malformed, too large, or names anything untrusted; the
            message lists every untrusted name and how to trust it.
    """
    p = Path(path)
    schema, _ = _read_schema(p)
    extra = frozenset(trust)
    names: set[str] = set()
    refused: dict[str, str] = {}
    widened: set[str] = set()
    for node in _nodes(schema):
        loader = node["__loader__"]
        if not isinstance(loader, str) or loader not in KNOWN_LOADERS:
            raise CheckpointError(
                f"{str(p)!r} uses an unknown skops loader {loader!r}; it cannot be trusted. "
                "Save the model again with skops.io.dump"
            )
        if loader == "CachedNode":  # a reference to a node that is checked where it stands
            continue
        name = _node_name(node)
        names.add(name)
        if name in _default_trusted(loader):
            continue
        if name in extra:
            widened.add(name)
            continue
        refused[name] = _WHAT.get(loader, "a type")
    if refused:
        listed = ", ".join(f"{n} ({what})" for n, what in sorted(refused.items()))
        raise CheckpointError(
            f"{str(p)!r} would build names that are not on the trusted list: {listed}. Review "
            "each one (its source, and what it does when called); to trust it anyway pass "
            "--trust NAME for each (config: model.trust), which the report records"
        )
    return SkopsReview(
        root=_node_name(schema), names=tuple(sorted(names)), widened=tuple(sorted(widened))
    )


def load(path: str | Path, trust: Sequence[str] = ()) -> tuple[Any, SkopsReview]:
    """All three gates, then the estimator; nothing untrusted is imported or called.

    Raises:
        CheckpointError: refused by a gate, or skops cannot load it.
    """
    import skops.io as sio  # noqa: PLC0415

    p = Path(path)
    rev = review(p, trust)
    allowed = set(rev.names)
    try:
        untrusted = sio.get_untrusted_types(file=p)
    except Exception as exc:
        raise CheckpointError(f"{str(p)!r} is not a readable skops file: {exc}") from exc
    unreviewed = sorted(set(untrusted) - allowed)
    if unreviewed:  # skops saw something the static review did not: refuse
        raise CheckpointError(
            f"{str(p)!r} would build names that are not on the trusted list: "
            f"{', '.join(unreviewed)}; pass --trust NAME for each after reviewing it"
        )
    try:
        estimator = sio.load(p, trusted=sorted(untrusted))
    except Exception as exc:
        raise CheckpointError(f"cannot load skops file {str(p)!r}: {exc}") from exc
    validate(estimator, where=str(p))
    return estimator, rev


# ------------------------------------------------------------------ gate 3: the built object


def _check_tree(tree: Any, where: str, n_features: int | None) -> None:
    """A fitted ``sklearn.tree._tree.Tree``: every split points forward inside the arrays."""
    n = int(tree.node_count)
    left = np.asarray(tree.children_left)
    right = np.asarray(tree.children_right)
    feature = np.asarray(tree.feature)
    limit = int(tree.n_features) if n_features is None else min(int(tree.n_features), n_features)
    if n < 1 or len(left) != n or len(right) != n or len(feature) != n:
        raise CheckpointError(f"{where}: a decision tree's node arrays are inconsistent; refused")
    idx = np.arange(n)
    leaf = left == -1
    ok = np.where(
        leaf,
        right == -1,
        (left > idx)
        & (left < n)
        & (right > idx)
        & (right < n)
        & (feature >= 0)
        & (feature < limit),
    )
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise CheckpointError(
            f"{where}: decision tree node {i} points outside the tree (children "
            f"{int(left[i])}, {int(right[i])} of {n} nodes, feature {int(feature[i])} of "
            f"{limit}); a crafted tree like this crashes scikit-learn, so it is refused"
        )


def _check_predictor(pred: Any, where: str, n_features: int | None) -> None:
    """A ``TreePredictor`` of histogram gradient boosting: the same forward-pointing rule."""
    nodes = np.asarray(pred.nodes)
    n = len(nodes)
    if n < 1:
        raise CheckpointError(f"{where}: a boosting tree has no nodes; refused")
    idx = np.arange(n)
    leaf = nodes["is_leaf"].astype(bool)
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    feat = nodes["feature_idx"].astype(np.int64)
    cat = nodes["is_categorical"].astype(bool)
    n_bitsets = len(np.asarray(pred.raw_left_cat_bitsets))
    limit = n_features if n_features is not None else int(feat.max()) + 1
    ok = leaf | (
        (left > idx)
        & (left < n)
        & (right > idx)
        & (right < n)
        & (feat >= 0)
        & (feat < limit)
        & (~cat | (nodes["bitset_idx"].astype(np.int64) < n_bitsets))
    )
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise CheckpointError(
            f"{where}: boosting tree node {i} points outside the tree; a crafted tree like "
            "this crashes scikit-learn, so it is refused"
        )


def _shadowed_method(obj: Any) -> str | None:
    cls = type(obj)
    for key in getattr(obj, "__dict__", {}):
        attr = inspect.getattr_static(cls, key, None)
        if attr is not None and (inspect.isfunction(attr) or inspect.ismethoddescriptor(attr)):
            return key
    return None


def validate(estimator: Any, *, where: str) -> None:
    """Gate 3: walk the built object graph and bounds-check what scikit-learn indexes blindly.

    Raises:
        CheckpointError: a tree points outside itself, or an attribute shadows a method.
    """
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor  # noqa: PLC0415
    from sklearn.tree._tree import Tree  # noqa: PLC0415

    stack: list[tuple[Any, int | None]] = [(estimator, None)]
    seen: set[int] = set()
    while stack:
        obj, n_features = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool)):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:  # e.g. GradientBoosting's estimators_
                stack.extend((v, n_features) for v in obj.ravel())
            continue
        if isinstance(obj, Tree):
            _check_tree(obj, where, n_features)
            continue
        if isinstance(obj, TreePredictor):
            _check_predictor(obj, where, n_features)
            continue
        if isinstance(obj, dict):
            stack.extend((v, n_features) for v in obj.values())
            continue
        if isinstance(obj, (list, tuple, set)):
            stack.extend((v, n_features) for v in obj)
            continue
        if hasattr(obj, "__dict__") and not isinstance(obj, type):
            key = _shadowed_method(obj)
            if key is not None:
                raise CheckpointError(
                    f"{where}: the {type(obj).__name__} in it sets its own attribute {key!r}, "
                    "which would replace the method of that name; refused"
                )
            own = getattr(obj, "n_features_in_", None)
            n_own = int(own) if isinstance(own, (int, np.integer)) else n_features
            stack.extend((v, n_own) for v in vars(obj).values())


__all__ = [
    "TRUSTED_CLASSES",
    "TRUSTED_DATA",
    "TRUSTED_FUNCTIONS",
    "TRUSTED_TYPE_VALUES",
    "SkopsReview",
    "load",
    "review",
    "validate",
]
