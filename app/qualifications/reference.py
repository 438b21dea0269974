"""The bundled example standards, clearly marked as examples (``is_example``, "(example)").

Loading is idempotent: an example whose title is already there is left as it is.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.qualifications.models import QualificationStandard
from app.qualifications.schemas import QualificationStandardIn, RequirementIn
from app.qualifications.service import create_standard

# DOMAIN.md: "a Division Chief position requires each of the five CSC competencies at Advanced".
EXAMPLES = (
    QualificationStandardIn(
        position_title="Division Chief (example)",
        agency=None,
        framework="csc-leadership-competencies",
        version="2015",
        requirements=[
            RequirementIn(competency=code, level="advanced")
            for code in (
                "thinking-strategically-and-creatively",
                "leading-change",
                "building-collaborative-inclusive-working-relationships",
                "managing-performance-and-coaching-for-results",
                "creating-and-nurturing-a-high-performing-organization",
            )
        ],
    ),
)


async def load_example_standards(session: AsyncSession) -> int:
    """Insert the examples that are missing (run after the frameworks); returns how many."""
    present = set(
        await session.scalars(
            select(QualificationStandard.position_title).where(QualificationStandard.is_example)
        )
    )
    inserted = 0
    for example in EXAMPLES:
        if example.position_title not in present:
            await create_standard(session, example, is_example=True)
            inserted += 1
    return inserted
