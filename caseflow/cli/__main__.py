"""``python -m caseflow.cli`` runs the command line."""

from caseflow.cli import main

main()
