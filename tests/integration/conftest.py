"""Integration tier: the real operator against the kmock API emulator."""
