"""distill-guard: find API accounts that harvest an LLM's outputs to train a competing model.

Stages, one folder each, data flowing one way:
ingest -> lake -> features / embeddings / clusters -> rules + model -> decide -> api / hooks / report
"""

__version__ = "0.1.0"
