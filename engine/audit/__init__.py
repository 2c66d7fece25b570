"""Audits of unlearned models: membership inference, distribution statistics, comparison tables."""
