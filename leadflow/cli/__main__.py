"""``python -m leadflow.cli``: the same as the ``leadflow`` command."""

from leadflow.cli import main

main()
