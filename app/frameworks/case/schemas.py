"""The CASE 1.1 REST binding's shapes, for the contract (the provider builds plain JSON).

Only the fields this provider fills are declared; the binding's others may appear (extra allowed).
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_ID = "0e5ac9ab-5ac3-5b31-a3b5-24b8a3a4d7a4"
_URI = f"https://cpro.example/ims/case/v1p1/CFItems/{_ID}"


class _Case(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class LinkURI(_Case):
    title: str = Field(examples=["Leading Change"])
    identifier: str = Field(examples=[_ID])
    uri: str = Field(examples=[_URI])


class CFDocumentOut(_Case):
    """A framework version as a CASE CFDocument."""

    identifier: str = Field(examples=[_ID])
    uri: str
    case_version: str = Field(alias="caseVersion", examples=["1.1"])
    creator: str = Field(examples=["Civil Service Commission (Philippines)"])
    title: str = Field(examples=["CSC Leadership Competency Framework"])
    last_change_date_time: str = Field(
        alias="lastChangeDateTime", examples=["2015-06-01T00:00:00Z"]
    )
    publisher: str | None = None
    description: str | None = None
    version: str = Field(examples=["2015"])
    adoption_status: str = Field(alias="adoptionStatus", examples=["Adopted", "Deprecated"])
    status_start_date: str | None = Field(default=None, alias="statusStartDate")
    status_end_date: str | None = Field(default=None, alias="statusEndDate")
    license_uri: LinkURI | None = Field(default=None, alias="licenseURI")
    notes: str | None = None
    package_uri: LinkURI | None = Field(default=None, alias="CFPackageURI")


class CFDocumentSet(_Case):
    cf_documents: list[CFDocumentOut] = Field(alias="CFDocuments")


class CFDocumentSelection(_Case):
    """The CFDocuments list when ``fields`` names some fields: each document has those only."""

    cf_documents: list[dict[str, Any]] = Field(alias="CFDocuments")


class CFItemOut(_Case):
    """A cluster, competency, level, core description, feature, element or indicator."""

    identifier: str = Field(examples=[_ID])
    uri: str = Field(examples=[_URI])
    full_statement: str = Field(
        alias="fullStatement",
        examples=["Communicates the vision with clarity, enthusiasm and conviction."],
    )
    abbreviated_statement: str | None = Field(default=None, alias="abbreviatedStatement")
    alternative_label: str | None = Field(default=None, alias="alternativeLabel")
    item_type: str = Field(alias="CFItemType", examples=["Indicator", "Negative Indicator"])
    item_type_uri: LinkURI = Field(alias="CFItemTypeURI")
    human_coding_scheme: str | None = Field(
        default=None, alias="humanCodingScheme", examples=["leading-change"]
    )
    list_enumeration: str | None = Field(default=None, alias="listEnumeration", examples=["3"])
    notes: str | None = Field(
        default=None, examples=["Incomplete: the source document cuts this text off."]
    )
    last_change_date_time: str = Field(alias="lastChangeDateTime")
    document_uri: LinkURI | None = Field(default=None, alias="CFDocumentURI")


class LinkGenURI(LinkURI):
    target_type: str | None = Field(default=None, alias="targetType")


class CFAssociationOut(_Case):
    identifier: str = Field(examples=[_ID])
    association_type: str = Field(alias="associationType", examples=["isChildOf", "hasSkillLevel"])
    sequence_number: int | None = Field(default=None, alias="sequenceNumber", examples=[1])
    uri: str
    origin_node_uri: LinkGenURI = Field(alias="originNodeURI")
    destination_node_uri: LinkGenURI = Field(alias="destinationNodeURI")
    last_change_date_time: str = Field(alias="lastChangeDateTime")
    document_uri: LinkURI | None = Field(default=None, alias="CFDocumentURI")


class CFRubricCriterionLevelOut(_Case):
    identifier: str
    uri: str
    description: str | None = Field(default=None, description="The core description.")
    quality: str = Field(examples=["Advanced"])
    score: float = Field(description="The level's rank.", examples=[3])
    position: int = Field(examples=[3])
    rubric_criterion_id: str = Field(alias="rubricCriterionId")
    last_change_date_time: str = Field(alias="lastChangeDateTime")


class CFRubricCriterionOut(_Case):
    identifier: str
    uri: str
    category: str | None = Field(default=None, examples=["Competency"])
    description: str | None = Field(default=None, examples=["Leading Change"])
    item_uri: LinkURI = Field(alias="CFItemURI")
    position: int
    rubric_id: str = Field(alias="rubricId")
    last_change_date_time: str = Field(alias="lastChangeDateTime")
    levels: list[CFRubricCriterionLevelOut] = Field(alias="CFRubricCriterionLevels")


class CFRubricOut(_Case):
    """The level scales of a version: one criterion per competency, one level per rung."""

    identifier: str
    uri: str
    title: str = Field(examples=["CSC Leadership Competency Framework 2015: level scales"])
    description: str | None = None
    last_change_date_time: str = Field(alias="lastChangeDateTime")
    criteria: list[CFRubricCriterionOut] = Field(alias="CFRubricCriteria")


class CFItemTypeOut(_Case):
    identifier: str
    uri: str
    title: str = Field(examples=["Negative Indicator"])
    description: str
    hierarchy_code: str = Field(alias="hierarchyCode", examples=["negative-indicator"])
    type_code: str | None = Field(default=None, alias="typeCode")
    last_change_date_time: str = Field(alias="lastChangeDateTime")


class CFLicenseOut(_Case):
    """The rights in a version's source document, as far as the source states them."""

    identifier: str
    uri: str
    title: str = Field(examples=["Terms of the source: CSC Leadership Competency Framework"])
    description: str | None = None
    license_text: str = Field(
        alias="licenseText",
        examples=[
            "The source document states no licence. The text is the publisher's: Civil Service "
            "Commission (Philippines)."
        ],
    )
    last_change_date_time: str = Field(alias="lastChangeDateTime")


class CFSubjectOut(_Case):
    identifier: str
    uri: str
    title: str
    hierarchy_code: str = Field(alias="hierarchyCode")
    description: str | None = None
    last_change_date_time: str = Field(alias="lastChangeDateTime")


class CFConceptOut(CFSubjectOut):
    keywords: str | None = None


class CFAssociationGroupingOut(_Case):
    identifier: str
    uri: str
    title: str
    description: str | None = None
    last_change_date_time: str = Field(alias="lastChangeDateTime")


class CFDefinitionsOut(_Case):
    item_types: list[CFItemTypeOut] = Field(default_factory=list, alias="CFItemTypes")
    licenses: list[CFLicenseOut] = Field(default_factory=list, alias="CFLicenses")


class CFItemTypeSet(_Case):
    """The item type asked for, then its children by hierarchy code (this provider's item
    types have none)."""

    item_types: list[CFItemTypeOut] = Field(alias="CFItemTypes", min_length=1)


class CFSubjectSet(_Case):
    subjects: list[CFSubjectOut] = Field(alias="CFSubjects", min_length=1)


class CFConceptSet(_Case):
    concepts: list[CFConceptOut] = Field(alias="CFConcepts", min_length=1)


class CFAssociationSet(_Case):
    """An item and every association of which it is the origin or the destination."""

    item: CFItemOut = Field(alias="CFItem")
    associations: list[CFAssociationOut] = Field(alias="CFAssociations")


class CFPackageOut(_Case):
    """A whole version: its CFDocument and every item, association, definition and rubric."""

    document: CFDocumentOut = Field(alias="CFDocument")
    items: list[CFItemOut] = Field(alias="CFItems")
    associations: list[CFAssociationOut] = Field(alias="CFAssociations")
    definitions: CFDefinitionsOut = Field(alias="CFDefinitions")
    rubrics: list[CFRubricOut] = Field(alias="CFRubrics")


class CFDocumentV1p0(CFDocumentOut):
    """A CFDocument as CASE 1.0 has it: without `caseVersion`, which 1.1 added."""

    case_version: str | None = Field(  # type: ignore[assignment]
        default=None, alias="caseVersion", description="Never sent: CASE 1.0 has no such field."
    )


class CFDocumentV1p0Set(_Case):
    cf_documents: list[CFDocumentV1p0] = Field(alias="CFDocuments")


class CFPackageV1p0(CFPackageOut):
    document: CFDocumentV1p0 = Field(alias="CFDocument")


class ImsxCodeMinorField(_Case):
    name: str = Field(
        alias="imsx_codeMinorFieldName",
        description="`TargetEndSystem`, or the unknown field a `sort`, `filter` or `fields` "
        "parameter named.",
        examples=["TargetEndSystem", "colour"],
    )
    value: str = Field(
        alias="imsx_codeMinorFieldValue",
        examples=["unknownobject", "invalid_uuid", "invalid_sort_field", "invalid_selection_field"],
    )


class ImsxCodeMinor(_Case):
    minor_fields: list[ImsxCodeMinorField] = Field(alias="imsx_codeMinorField")


class ImsxStatusInfo(_Case):
    """The CASE binding's error body."""

    code_major: str = Field(alias="imsx_codeMajor", examples=["failure"])
    severity: str = Field(alias="imsx_severity", examples=["error"])
    description: str | None = Field(
        default=None, alias="imsx_description", examples=["No CFItem 0e5ac9ab-..."]
    )
    code_minor: ImsxCodeMinor = Field(alias="imsx_codeMinor")
