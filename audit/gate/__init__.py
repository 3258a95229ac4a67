"""Gates: the policy that turns metrics into verdicts, the scorecard, comparisons of runs, and the run history."""
