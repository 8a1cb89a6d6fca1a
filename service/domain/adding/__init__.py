"""Adding what a conversation says: the request, the LLM pipeline, its jobs and its prompt.

``AddService`` is the one entry point for every add endpoint of both dialects. With ``infer``
and an LLM configured, the add is stored as a job (``jobs``) and run through the pipeline
(``pipeline``: one LLM call extracts facts and reconciles them with memory, ``prompt``); the
job keeps its input and result in the domain's own versioned JSON (``codec``). Otherwise the
remembered messages are stored as given.
"""

from service.domain.adding.jobs import IngestJobs, Job, job_not_found
from service.domain.adding.pipeline import IngestPipeline
from service.domain.adding.request import AddRequest, Turn
from service.domain.adding.results import AddResult, RejectedDecision
from service.domain.adding.service import AddLimits, AddService

__all__ = [
    "AddLimits",
    "AddRequest",
    "AddResult",
    "AddService",
    "IngestJobs",
    "IngestPipeline",
    "Job",
    "RejectedDecision",
    "Turn",
    "job_not_found",
]
