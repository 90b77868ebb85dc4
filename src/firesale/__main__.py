"""``python -m firesale`` runs the command line."""

from firesale.cli import main

if __name__ == "__main__":
    main()
