"""Analytical Markov-chain heuristics and the fluid LP upper bound."""
