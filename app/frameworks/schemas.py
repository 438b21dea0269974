"""The framework document: what import takes, what export and the read API give.

The same shape round-trips: ``export?format=json`` -> import -> export is byte-identical.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

Code = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100),
    Field(
        description="Lower-case kebab-case code, stable within its list.",
        examples=["leading-change"],
    ),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100),
    Field(examples=["csc-leadership-competencies"]),
]
VersionLabel = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$", max_length=40),
    Field(examples=["2015"]),
]
Polarity = Literal["positive", "negative"]
VersionStatus = Literal["draft", "published", "retired"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LevelDoc(_Strict):
    code: Code
    name: Name = Field(examples=["Advanced", "Stage 2 - Is confident in own ability"])
    rank: int = Field(ge=1, le=100, description="1 is the lowest.")


class ClusterDoc(_Strict):
    code: Code
    name: Name
    description: Text | None = None


class LevelDescriptionDoc(_Strict):
    level: Code
    text: Text
    complete: bool = True


class ElementDoc(_Strict):
    code: Code
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    complete: bool = True


class IndicatorDoc(_Strict):
    text: Text
    level: Code | None = Field(default=None, description="Null for negative indicators.")
    polarity: Polarity = "positive"
    element: Code | None = None
    complete: bool = Field(default=True, description="False when the source cuts the text off.")


class CompetencyDoc(_Strict):
    code: Code
    name: Name
    cluster: Code | None = None
    attribute: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    definition: Text | None = None
    definition_complete: bool = True
    features: list[Text] = Field(default_factory=list, max_length=200)
    negative_indicators_title: Text | None = None
    levels: list[LevelDoc] = Field(
        default_factory=list,
        max_length=100,
        description="This competency's own scale (stages), when the framework has no common one.",
    )
    level_descriptions: list[LevelDescriptionDoc] = Field(default_factory=list, max_length=100)
    elements: list[ElementDoc] = Field(default_factory=list, max_length=500)
    indicators: list[IndicatorDoc] = Field(default_factory=list, max_length=5000)


class FrameworkMeta(_Strict):
    slug: Slug
    title: Name
    publisher: Name | None = None
    jurisdiction: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$", max_length=2)] | None = (
        Field(default=None, description="ISO 3166-1 alpha-2 country code.", examples=["PH"])
    )
    description: Text | None = None
    source: Text | None = None


class VersionContent(_Strict):
    version: VersionLabel
    notes: Text | None = None
    levels: list[LevelDoc] = Field(default_factory=list, max_length=100)
    clusters: list[ClusterDoc] = Field(default_factory=list, max_length=200)
    competencies: list[CompetencyDoc] = Field(default_factory=list, max_length=1000)


class FrameworkDocument(FrameworkMeta, VersionContent):
    """One version of a framework, complete: the import and export JSON shape."""


class BundledVersion(VersionContent):
    status: VersionStatus


class BundledFramework(FrameworkMeta):
    """A file under ``reference_data/``: a framework with all its versions."""

    versions: list[BundledVersion]


class FrameworkVersionOut(FrameworkDocument):
    """A framework version as the read API serves it."""

    model_config = ConfigDict(extra="forbid")

    status: VersionStatus
    published_at: datetime | None
    retired_at: datetime | None
    updated_at: datetime


class VersionSummary(BaseModel):
    version: str = Field(examples=["2015"])
    status: VersionStatus
    notes: str | None
    competency_count: int
    indicator_count: int
    published_at: datetime | None
    retired_at: datetime | None
    updated_at: datetime


class FrameworkSummary(BaseModel):
    slug: str = Field(examples=["csc-leadership-competencies"])
    title: str
    publisher: str | None
    jurisdiction: str | None
    description: str | None
    status: VersionStatus = Field(
        description="`published` when a published version exists; else `draft` when a draft does; else `retired`."
    )
    current_version: str | None = Field(
        description="The latest published version, if any.", examples=["2015"]
    )
    versions: list[str] = Field(description="Every version label, oldest first.")


class LevelOut(BaseModel):
    code: str = Field(examples=["advanced"])
    name: str = Field(examples=["Advanced"])
    rank: int = Field(examples=[3])


class CompetencyRef(BaseModel):
    code: str = Field(examples=["leading-change"])
    name: str = Field(examples=["Leading Change"])


class IndicatorOut(BaseModel):
    """One behavioural indicator, flat, with everything needed to cite it."""

    id: int = Field(description="Stable id of this indicator in this framework version.")
    framework: str = Field(examples=["csc-leadership-competencies"])
    version: str = Field(examples=["2015"])
    competency: CompetencyRef
    element: CompetencyRef | None = Field(description="The element (sub-behaviour), if any.")
    level: LevelOut | None = Field(description="Null for negative indicators and unlevelled ones.")
    polarity: Polarity
    text: str = Field(
        examples=[
            "Communicates the vision with clarity, enthusiasm and conviction to promote sustained and successful implementation of change."
        ]
    )
    complete: bool = Field(description="False when the source document cuts this text off.")
    rank: float | None = Field(
        default=None, description="Full-text relevance when `q` is given (higher is better)."
    )


# -- version diff ------------------------------------------------------------------------------


class FieldChange(BaseModel):
    """One field whose value differs between the two versions."""

    field: str = Field(examples=["definition"])
    before: JsonValue = Field(examples=[None])
    after: JsonValue = Field(
        examples=[
            "The ability to generate a compelling vision and momentum for organizational change."
        ]
    )


class ItemRef(BaseModel):
    """A level, cluster or competency, by code."""

    code: str = Field(examples=["leading-change"])
    name: str = Field(examples=["Leading Change"])


class ItemChange(ItemRef):
    """An item present in both versions (same code) whose fields differ; `name` is the new one."""

    changes: list[FieldChange]


class ItemDiff(BaseModel):
    added: list[ItemRef] = Field(description="In the second version only.")
    removed: list[ItemRef] = Field(description="In the first version only.")
    changed: list[ItemChange] = Field(description="In both, with different fields.")


class IndicatorText(BaseModel):
    text: str = Field(examples=["Sets up regular meetings or consu with the team, partners..."])
    complete: bool


class IndicatorRef(IndicatorText):
    """An indicator, by where it sits: competency, element, level and polarity."""

    competency: str = Field(examples=["leading-change"])
    element: str | None = Field(examples=["advances-and-sustains-change"])
    level: str | None = Field(examples=["advanced"])
    polarity: Polarity


class IndicatorChange(BaseModel):
    """An indicator at the same place in both versions whose text or completeness differs."""

    competency: str = Field(examples=["leading-change"])
    element: str | None = Field(examples=["advances-and-sustains-change"])
    level: str | None = Field(examples=["advanced"])
    polarity: Polarity
    before: IndicatorText
    after: IndicatorText


class IndicatorDiff(BaseModel):
    added: list[IndicatorRef]
    removed: list[IndicatorRef]
    changed: list[IndicatorChange]


class VersionDiff(BaseModel):
    """What changed from version `from_version` to version `to_version` of one framework."""

    framework: str = Field(examples=["csc-leadership-competencies"])
    from_version: str = Field(examples=["2014"])
    to_version: str = Field(examples=["2015"])
    levels: ItemDiff = Field(description="The framework-wide level scale.")
    clusters: ItemDiff
    competencies: ItemDiff
    indicators: IndicatorDiff
