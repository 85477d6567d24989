"""Tiers: the ladder and paid VIP membership. Not built yet: issue 5."""
