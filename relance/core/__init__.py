"""Pure domain primitives (money, dates, clock, errors). Never imports Django."""
