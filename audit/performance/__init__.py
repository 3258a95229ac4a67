"""The performance pillar: accuracy, calibration and confusion, with their figures."""
