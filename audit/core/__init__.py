"""Core wiring: the audit target and model adapters, the configuration, the check protocol and registry, budgets, statistics, the runner, and the one path from a configuration to a report."""
