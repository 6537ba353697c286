"""Uptime monitoring (MON-01, MON-02, MON-10): checks on sites and servers, their raw results,
the confirmed up/down state and the roll-ups that keep years of history small."""
