"""Credit management's pure part (issue 15): scorecards as data and the scoring that runs in the
engine. No Django here; the ``relance.credit`` app stores, schedules and shows."""
