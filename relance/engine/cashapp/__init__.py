"""Cash application's pure part (issue 17): matching bank credit lines to open items.

No Django here: the engine works on the frozen value objects of ``lines`` so the same matching
runs in the ``relance.cashapp`` app and in batch. ``relance.cashapp`` stores, applies and shows.
"""
