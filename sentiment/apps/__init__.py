"""Entry points: the command line, the pipeline stages, batch scoring, the HTTP service and the Ray engine."""
