"""Explanation methods and their quality metrics (methods on tensors; no audit imports).

Registry: :data:`EXPLAINERS` maps a stable name to the method's class.
"""

from explain._captum import IntegratedGradients, Saliency
from explain._lime import Lime
from explain._shap import ShapPermutation
from explain.base import EXPLAINERS, Explainer, Explanation, ModelView
from explain.expected_gradients import ExpectedGradients
from explain.gradcam import GradCAM, GradCAMPlusPlus

__all__ = [
    "EXPLAINERS",
    "ExpectedGradients",
    "Explainer",
    "Explanation",
    "GradCAM",
    "GradCAMPlusPlus",
    "IntegratedGradients",
    "Lime",
    "ModelView",
    "Saliency",
    "ShapPermutation",
]
