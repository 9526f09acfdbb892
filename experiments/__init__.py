"""Experiment configs, training runs, evaluation with common random numbers and the leaderboard."""
