"""``python -m caseflow`` runs the command line."""

from caseflow.cli import main

main()
