"""Predictions and forecasts (issue 16): pure Python, no Django.

Features are Ibis expressions over the engine's tables (``relance.ml.features``), models follow
scikit-learn's estimator API (``relance.ml.survival``, ``relance.ml.baseline``), and what they
produce are the frozen value objects of ``relance.ml.predictions``. The Django app
``relance.predict`` binds the app database, stores the runs and serves them.
"""
