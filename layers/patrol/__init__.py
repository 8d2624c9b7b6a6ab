"""Patrol routes and the GPS tracks walked along them."""
