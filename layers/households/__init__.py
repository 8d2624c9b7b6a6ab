"""Households (户) and the persons behind them; persons hold personal data."""
