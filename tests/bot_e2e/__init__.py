"""The Discord adapter end to end: real discord.py, the real bot, real flows and core (SQLite,
simulated clock), against the local Discord double. Users type commands, press buttons,
fill in forms and chat; the tests read what Discord would show them and what the core holds.
The harness is tests/bot_harness.py; the fixture ``h`` is in ``conftest``.
"""
