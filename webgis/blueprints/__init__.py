"""The app's blueprints, one per user-facing area."""
