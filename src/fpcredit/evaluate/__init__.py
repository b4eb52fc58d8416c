"""Credit evaluation: the policy file, AHP weights, the SQL engine and explanations."""
