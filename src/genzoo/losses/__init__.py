"""Training objectives shared as pure functions (tested against their formulas)."""
