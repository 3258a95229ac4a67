"""The fairness pillar: group metrics and intervals (``metrics``), mitigations, the check, and its figures."""
