"""A small framework document for authoring tests: every shape the importer takes, once."""

import copy
from typing import Any

SLUG = "test-leadership-framework"

_DOCUMENT: dict[str, Any] = {
    "slug": SLUG,
    "title": "Test Leadership Framework",
    "publisher": "Test Publisher",
    "jurisdiction": "PH",
    "description": "A framework made up for tests.",
    "source": None,
    "version": "1",
    "notes": "First draft.",
    "levels": [
        {"code": "basic", "name": "Basic", "rank": 1},
        {"code": "advanced", "name": "Advanced", "rank": 2},
    ],
    "clusters": [{"code": "people", "name": "People", "description": None}],
    "competencies": [
        {
            "code": "developing-others",
            "name": "Developing Others",
            "cluster": "people",
            "definition": "Helps others grow.",
            "level_descriptions": [
                {"level": "basic", "text": "Supports the growth of peers."},
                {"level": "advanced", "text": "Builds a learning unit."},
            ],
            "elements": [{"code": "gives-feedback", "name": "Gives feedback"}],
            "indicators": [
                {
                    "text": "Gives timely feedback to team members.",
                    "level": "basic",
                    "element": "gives-feedback",
                },
                {
                    "text": "Mentors team leaders in giving feedback.",
                    "level": "advanced",
                    "element": "gives-feedback",
                },
                {"text": "Avoids difficult conversations.", "polarity": "negative"},
            ],
        },
        {
            "code": "planning-work",
            "name": "Planning Work",
            "indicators": [
                {"text": "Plans own work each week.", "level": "basic"},
                {"text": "Plans the unit's work for the year.", "level": "advanced"},
            ],
        },
    ],
}


def framework_document(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the test document with top-level ``changes`` applied."""
    return copy.deepcopy(_DOCUMENT) | changes
