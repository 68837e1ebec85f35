"""Loan default risk: the reference MLOps lifecycle template."""
