"""The distill stage (`sentiscore.distill`): a smaller student from an exported teacher run, and a
cascade of the two (the student scores the sure rows, the teacher the doubtful ones)."""

from .cascade import CascadeResult, cascade
from .stage import DistillResult, distill

__all__ = ["CascadeResult", "DistillResult", "cascade", "distill"]
