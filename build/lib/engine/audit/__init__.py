"""Audits of unlearned models: membership inference, distribution statistics, comparison tables.

* :mod:`engine.audit.mia`: loss threshold, MIA-efficacy (SVC on p_y), SG-Unlearn's simple MIA.
* :mod:`engine.audit.rmia`: RMIA with stored reference models, the AMUN paper's FT AUC.
* :mod:`engine.audit.stats`: KS and 1-Wasserstein of per-sample losses.
"""
