"""The score stage's entry point: `score(job, engine) -> summary`."""

from __future__ import annotations

from contextlib import closing

from sentiscore.score.engines import Engine, EngineOptions, make_engine
from sentiscore.score.file_job import ScoreSummary, score_file
from sentiscore.score.folder_job import FolderSummary, score_folder
from sentiscore.score.job import ScoreJob


def score(job: ScoreJob, engine: Engine | None = None) -> ScoreSummary | FolderSummary:
    """Score JOB with ENGINE (default: the local engine, closed at the end). A job whose output is a
    folder is a folder job (FolderSummary); any other writes one output (ScoreSummary)."""
    if engine is None:
        with closing(make_engine("local", EngineOptions())) as local:
            return score(job, local)
    return score_folder(job, engine) if job.folder_job else score_file(job, engine)
