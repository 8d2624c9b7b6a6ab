"""Incidents (事件) and their closed loop: categories, statuses, history."""
