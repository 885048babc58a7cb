"""``python -m leadflow.cli``: the same as the ``leadflow`` command."""

from leadflow.cli import main

if __name__ == "__main__":  # not when a spawned worker process re-imports the main module
    main()
