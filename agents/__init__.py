"""Learned stocking policies trained with stable-baselines3."""
