"""Credit management (issue 15): who gets credit, how much and for how long.

Scoring is pure (``relance.engine.credit``); this app stores what it decides and what people
decide: scorecard versions, daily scores, bureau reports, reviews, applications and decisions.
The limit itself stays ``Customer.credit_limit`` (one home): decisions write it.
"""
