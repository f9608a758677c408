"""One plotting module per figure (``figures/figNN_name.py``); ``python -m figures`` redraws them.

Figures read records (:mod:`sims.records`) and overlay predictions from :mod:`theory`.
"""
