"""Basket and umbrella designs with information sharing across subgroups (in progress):
hierarchical models computed deterministically by quadrature -- Berry et al.'s BHM, EXNEX,
MEM, Fujikawa's similarity-weighted sharing, the calibrated BHM -- with stratified and
pooled comparators, all returning :class:`BasketPosterior`; vectorised posterior tables;
and :class:`BasketDesign` with exact operating characteristics from decision tables (single
final analysis so far)."""

from rdstats.basket._bhm import BHM
from rdstats.basket._cbhm import CalibratedBHM
from rdstats.basket._design import BasketDesign, BasketOC
from rdstats.basket._design_rules import BasketRule
from rdstats.basket._exnex import EXNEX
from rdstats.basket._fujikawa import Fujikawa
from rdstats.basket._independent import Pooled, Stratified
from rdstats.basket._mem import MEM, MEMPosterior
from rdstats.basket._posterior import BasketPosterior

__all__ = [
    "BHM",
    "EXNEX",
    "MEM",
    "BasketDesign",
    "BasketOC",
    "BasketPosterior",
    "BasketRule",
    "CalibratedBHM",
    "Fujikawa",
    "MEMPosterior",
    "Pooled",
    "Stratified",
]
