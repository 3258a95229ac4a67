"""The explainability pillar: attributions, their faithfulness and sanity checks, and their figures."""
