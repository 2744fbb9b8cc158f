"""Campaigns: targeting, enrollment and suppression, the call queue."""
