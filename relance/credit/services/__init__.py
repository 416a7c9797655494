"""Writes of the credit app, one module per area (scoring, bureau, reviews, applications, notices).

Import the module you need (``from relance.credit.services import scoring``): each loads only its
own dependencies.
"""
