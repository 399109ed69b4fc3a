"""Synthetic "what does this Python snippet print?" tasks with step-by-step thinking traces."""
