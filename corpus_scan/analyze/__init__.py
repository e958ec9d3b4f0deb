"""Analysis of a scan database: prevalence report, narrative topics and their triage, audit.

Public entry points (the CLI's `topics` and `report` commands wrap them):
- `topics(db, mark=..., ...)` -> TopicsResult
- `report(db, out_dir, precision=..., recall=..., ...)` -> ReportResult
"""

from __future__ import annotations

from corpus_scan.analyze.report import ReportResult, report
from corpus_scan.analyze.topics import TopicRow, TopicsResult, topics

__all__ = ["ReportResult", "TopicRow", "TopicsResult", "report", "topics"]
