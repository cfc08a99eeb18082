"""Basket and umbrella designs with information sharing across subgroups (in progress):
the common posterior result :class:`BasketPosterior`."""

from rdstats.basket._posterior import BasketPosterior

__all__ = ["BasketPosterior"]
