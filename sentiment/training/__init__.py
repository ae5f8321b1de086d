"""Training recipes: the fit recipe, distillation and its teacher cache, adaptation, domains.

Recipes work on networks, vocabularies and arrays; the estimator (``sentiment.classifier``) calls them and wraps
what they return. They never import it.
"""
