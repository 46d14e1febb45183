"""``python -m epmm_async``: the ``epmm`` command line."""

from epmm_async.cli import main

if __name__ == "__main__":
    main()
