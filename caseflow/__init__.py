"""The composition root (``caseflow.app.build``) and the command line (``caseflow.cli``)."""
