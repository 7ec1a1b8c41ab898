"""The score stage (`sentiscore.score`): stream reviews through onnxruntime, resumably, in constant
memory, on one machine or a Ray cluster. Never imports torch. Entry point: `score(job, engine)`."""

from sentiscore.score.engines import EngineOptions, make_engine
from sentiscore.score.job import ScoreJob
from sentiscore.score.predict import Settings
from sentiscore.score.stage import score

__all__ = ["EngineOptions", "ScoreJob", "Settings", "make_engine", "score"]
