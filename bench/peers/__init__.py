"""Peers: the project's plan written for other engines, to be measured side by side with it."""
