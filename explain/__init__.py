"""Explanation methods and their quality metrics (methods on tensors; no audit imports).

Registry: :data:`EXPLAINERS` maps a stable name to the method's class.
"""

from rai_audit.explain._captum import IntegratedGradients, Saliency
from rai_audit.explain._lime import Lime
from rai_audit.explain._shap import ShapPermutation
from rai_audit.explain.base import EXPLAINERS, Explainer, Explanation, ModelView
from rai_audit.explain.expected_gradients import ExpectedGradients
from rai_audit.explain.gradcam import GradCAM, GradCAMPlusPlus

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
