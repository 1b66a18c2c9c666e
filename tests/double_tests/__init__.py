"""The Discord double (tests/discord_double) against the real, unmodified discord.py 2.7.1
client: a tiny bot (``sample_bot``) runs in the test's event loop, or as a separate process
for the restart test. The fixtures are in ``conftest``.
"""
