"""Tiers: the ladder members climb in real time, and paid VIP membership."""
