"""What a credential's ids point at answers, as 1EdTech's schemas say it must: the issuer
Profile, the Achievement, and the competencies' CASE CFItems; the credential itself validates
against 1EdTech's AchievementCredential schema in both of its forms."""

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from httpx import AsyncClient
from jsonschema import Draft201909Validator
from sqlalchemy.ext.asyncio import AsyncSession

from tests.certificates.issued import PUBLIC_ROOT, certify

SCHEMAS = Path(__file__).parent / "schemas"
ACHIEVEMENT = "/v1/achievements/certificate-in-leadership-and-management"
FIVE_COMPETENCIES = [
    "Thinking Strategically and Creatively",
    "Leading Change",
    "Building Collaborative, Inclusive Working Relationships",
    "Managing Performance and Coaching for Results",
    "Creating and Nurturing a High Performing Organization",
]


def validator(name: str) -> Draft201909Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


def errors(name: str, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(name).iter_errors(document)
    ]


async def test_both_credential_forms_validate_against_the_1edtech_schema(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    token = (await client.get(f"/v1/certificates/{serial}/credential")).text
    payload = jwt.decode(token, options={"verify_signature": False})
    secured = (
        await client.get(
            f"/v1/certificates/{serial}/credential",
            headers={"Accept": "application/vc+ld+json"},
        )
    ).json()

    assert errors("ob-v3p0-achievementcredential.json", payload) == []
    assert errors("ob-v3p0-achievementcredential.json", secured) == []
    # The schema can fail: a credential without its status entry's id does not validate.
    del secured["credentialStatus"]["id"]
    assert errors("ob-v3p0-achievementcredential.json", secured) != []


async def test_the_credential_carries_a_bitstring_status_list_entry(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    token = (await client.get(f"/v1/certificates/{serial}/credential")).text
    status = jwt.decode(token, options={"verify_signature": False})["credentialStatus"]

    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusPurpose"] == "revocation"
    assert 0 <= int(status["statusListIndex"]) < 131_072
    assert status["statusListCredential"].startswith(f"{PUBLIC_ROOT}/v1/status-lists/")
    assert status["id"] == f"{status['statusListCredential']}#{status['statusListIndex']}"


@pytest.mark.parametrize("accept", ["application/json", "application/ld+json"])
async def test_the_issuer_id_serves_a_profile_valid_against_the_1edtech_schema(
    client: AsyncClient, session: AsyncSession, accept: str
) -> None:
    serial, _ = await certify(client, session)
    token = (await client.get(f"/v1/certificates/{serial}/credential")).text
    issuer_id = jwt.decode(token, options={"verify_signature": False})["issuer"]["id"]
    assert issuer_id.startswith(PUBLIC_ROOT)

    response = await client.get(issuer_id.removeprefix(PUBLIC_ROOT), headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(accept)
    profile = response.json()
    assert errors("ob-v3p0-profile.json", profile) == []
    assert profile["id"] == issuer_id and "Profile" in profile["type"]
    assert profile["name"] == "Civil Service Commission" and profile["url"].startswith("https://")
    (current,) = [m for m in profile["verificationMethod"] if m["status"] == "current"]
    assert current["type"] == "Multikey" and current["publicKeyMultibase"].startswith("z6Mk")
    assert current["id"] in profile["assertionMethod"]
    jwks = (await client.get(profile["jwks_uri"].removeprefix(PUBLIC_ROOT))).json()
    assert jwt.get_unverified_header(token)["kid"] in [k["kid"] for k in jwks["keys"]]


async def test_the_same_profile_json_for_json_and_json_ld(client: AsyncClient) -> None:
    as_json = await client.get("/v1/issuer", headers={"Accept": "application/json"})
    as_json_ld = await client.get("/v1/issuer", headers={"Accept": "application/ld+json"})
    assert as_json.json() == as_json_ld.json()
    assert as_json.headers["vary"] == "Accept"


@pytest.mark.parametrize("accept", ["application/json", "application/ld+json"])
async def test_the_achievement_id_serves_criteria_image_and_five_aligned_competencies(
    client: AsyncClient, session: AsyncSession, accept: str
) -> None:
    serial, _ = await certify(client, session)
    token = (await client.get(f"/v1/certificates/{serial}/credential")).text
    embedded = jwt.decode(token, options={"verify_signature": False})["credentialSubject"][
        "achievement"
    ]
    assert embedded["id"] == PUBLIC_ROOT + ACHIEVEMENT

    response = await client.get(ACHIEVEMENT, headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(accept)
    achievement = response.json()
    assert {k: v for k, v in achievement.items() if k != "@context"} == embedded
    # Validated as the credential schema's Achievement definition.
    definitions = json.loads((SCHEMAS / "ob-v3p0-achievementcredential.json").read_text())
    schema = {"$defs": definitions["$defs"], "$ref": "#/$defs/Achievement"}
    assert list(Draft201909Validator(schema).iter_errors(achievement)) == []
    assert "five leadership competencies" in achievement["criteria"]["narrative"]
    assert achievement["description"] and achievement["image"]["type"] == "Image"
    assert achievement["image"]["id"].startswith("data:image/svg+xml;base64,")
    assert sorted(a["targetName"] for a in achievement["alignment"]) == sorted(FIVE_COMPETENCIES)


async def test_every_alignment_points_at_the_case_cfitem_of_that_competency(
    client: AsyncClient,
) -> None:
    achievement = (await client.get(ACHIEVEMENT)).json()

    for alignment in achievement["alignment"]:
        assert alignment["targetType"] == "CFItem"
        item = await client.get(alignment["targetUrl"].removeprefix(PUBLIC_ROOT))
        assert item.status_code == 200, alignment["targetUrl"]
        cf_item = item.json()
        assert cf_item["uri"] == alignment["targetUrl"]
        assert cf_item["CFItemType"] == "Competency"
        assert alignment["targetName"] in (
            cf_item.get("abbreviatedStatement"),
            cf_item["fullStatement"],
        )
        assert cf_item["humanCodingScheme"] == alignment["targetCode"]


async def test_an_unknown_achievement_is_404(client: AsyncClient) -> None:
    response = await client.get("/v1/achievements/master-of-public-administration")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
