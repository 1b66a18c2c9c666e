"""``python -m bot``: start the bot, or run an operator command (see ``--help``)."""

import sys

from bot.cli import main

sys.exit(main(sys.argv[1:]))
