"""Request and response bodies of the HTTP API (Pydantic), as published in /openapi.json.

The hot paths (posting and reading envelopes) build their JSON directly; these models
still declare it, so the OpenAPI document is the contract.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from messaging.prekeys import MAX_STORED, MAX_UPLOAD

ADDRESS = r"^0x[0-9a-fA-F]{40}$"
HEX32 = r"^[0-9a-fA-F]{32}$"
HEX64 = r"^[0-9a-fA-F]{64}$"
HEX128 = r"^[0-9a-fA-F]{128}$"
MAX_SEQ = 2**63 - 1
SIGNATURE = r"^(0x)?[0-9a-fA-F]{130}$"
BASE64 = r"^[A-Za-z0-9+/]+={0,2}$"


class ErrorDetail(BaseModel):
    code: str = Field(examples=["quota_exceeded"])
    message: str
    mailbox: str | None = Field(None, description="The mailbox over quota (507 only)")


class ErrorOut(BaseModel):
    error: ErrorDetail


ERROR_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid, expired or revoked token; or a failed challenge",
    403: "A valid token used for another mailbox",
    404: "Not found",
    409: "An older identity bundle than the one stored; or (prekeys) the identity key changed during the upload",
    413: "Too large: a ciphertext over 64 KiB, a batch over 500, or the request body",
    422: "Malformed",
    429: "Rate limited: see Retry-After",
    507: "Insufficient Storage: the recipient's contact lane is over its quota, or the relay's storage for "
    "message requests is full; nothing was stored",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error responses for the OpenAPI document (429 everywhere; 400 for a body that is not
    even JSON text)."""
    return {status: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[status]} for status in (*statuses, 429)}


class BundleJson(BaseModel):
    """messaging.identity.Bundle.to_json()"""

    address: str = Field(pattern=ADDRESS)
    x25519: str = Field(pattern=HEX64, description="hex, 32 bytes")
    ed25519: str = Field(pattern=HEX64, description="hex, 32 bytes")
    issued_at: int = Field(ge=0, lt=2**40, description="unix seconds")
    version: int = Field(gt=0, lt=10**9)
    signature: str = Field(pattern=SIGNATURE, description="0x + hex, 65 bytes (EIP-191 by the address)")


class PublishOut(BaseModel):
    address: str
    version: int
    result: Literal["created", "updated", "unchanged"]


class EnvelopeIn(BaseModel):
    """messaging.envelope.Envelope.to_json()"""

    # v and ttl are checked by the route (422 "unknown_version"; the relay's max_ttl), so
    # their bounds are stated here for the schema only
    v: int = Field(json_schema_extra={"enum": [1]}, description="envelope format version (1)")
    to: str = Field(pattern=ADDRESS, description="the recipient's mailbox")
    id: str = Field(pattern=HEX32, description="message id, 16 bytes hex")
    ttl: int = Field(json_schema_extra={"minimum": 1, "maximum": 30 * 24 * 3600}, description="seconds, 1 to 30 days")
    ct: str = Field(
        min_length=4,
        json_schema_extra={"pattern": BASE64},
        description="ciphertext, standard base64, at most 65536 bytes decoded (413 beyond)",
    )
    pass_: str | None = Field(
        None,
        alias="pass",
        pattern=HEX32,
        description="the recipient's delivery pass, hex, 16 bytes (given to their contacts in the encrypted chat): "
        "a registered one puts the envelope in the contact lane; without one it is a message request",
    )


class MessagesIn(BaseModel):
    envelopes: list[EnvelopeIn] = Field(description="1 to 500 envelopes, stored in one transaction")


class AcceptedOut(BaseModel):
    id: str
    seq: int
    duplicate: bool
    lane: Literal["contact", "request"] = Field(
        description="contact: a valid delivery pass came with it; request: the recipient's small request lane, "
        "where the oldest are evicted when it is full"
    )


class MessagesOut(BaseModel):
    accepted: list[AcceptedOut]


class StoredEnvelopeOut(BaseModel):
    seq: int
    v: int
    to: str
    id: str
    ttl: int
    ct: str


class MailboxOut(BaseModel):
    envelopes: list[StoredEnvelopeOut]
    next: int = Field(description="the cursor for the next read: the last seq returned, else `after`")


class AckIn(BaseModel):
    ids: list[Annotated[str, Field(pattern=HEX32)]] = Field(max_length=1000, description="message ids, hex")


class AckOut(BaseModel):
    deleted: int


class PassesIn(BaseModel):
    passes: list[Annotated[str, Field(pattern=HEX64)]] = Field(
        max_length=16,
        description="SHA-256 (hex) of each delivery pass; replaces the mailbox's set ([] revokes all). "
        "At most the relay's max_passes (422 beyond)",
    )


class PassesOut(BaseModel):
    passes: int


class ChallengeIn(BaseModel):
    address: str = Field(pattern=ADDRESS)


class ChallengeOut(BaseModel):
    nonce: str = Field(description="hex, 32 bytes")
    expires_at: int = Field(description="unix ms")


class TokenIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "description": "signature: hex Ed25519 over b'hongbao-relay-auth-v1\\0' + address (20 bytes) + nonce (32 bytes)"
        }
    )

    address: str = Field(pattern=ADDRESS)
    nonce: str
    signature: str


class TokenOut(BaseModel):
    token: str
    expires_at: int = Field(description="unix ms")


class HealthOut(BaseModel):
    ok: bool
    db: str


# -- X3DH prekeys (messaging/prekeys.py) -------------------------------------------------------


class SignedPrekeyJson(BaseModel):
    """messaging.prekeys.SignedPrekey.to_json()"""

    key: str = Field(pattern=HEX64, description="X25519 public key, hex, 32 bytes")
    signature: str = Field(
        pattern=HEX128,
        description="Ed25519 by the identity key over b'hongbao-x3dh-v1\\0' + b'\\x05' + key, hex, 64 bytes",
    )
    created_at: int = Field(ge=0, lt=2**40, description="unix seconds")


class OneTimePrekeyJson(BaseModel):
    """messaging.prekeys.OneTimePrekey.to_json()"""

    key: str = Field(pattern=HEX64, description="X25519 public key, hex, 32 bytes")
    signature: str = Field(
        pattern=HEX128,
        description="Ed25519 by the identity key over b'hongbao-one-time-prekey-v1\\0' + key, hex, 64 bytes",
    )


class PrekeyUploadIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "description": "Every key must be signed by the mailbox's current identity (Ed25519) key; 422 otherwise, and nothing is stored"
        }
    )

    signed_prekey: SignedPrekeyJson | None = Field(None, description="replaces the stored signed prekey")
    one_time_prekeys: list[OneTimePrekeyJson] = Field(
        default_factory=list,
        json_schema_extra={"maxItems": MAX_UPLOAD},  # checked by parse_upload, whose message is clearer
        description=f"at most {MAX_UPLOAD} per upload and {MAX_STORED} stored; ones already stored are skipped (a retry is harmless)",
    )
    replace_one_time: bool = Field(
        False,
        description="delete the one-time prekeys stored before adding these (a device that lost their private halves)",
    )


class PrekeyStatusOut(BaseModel):
    one_time: int = Field(description="one-time prekeys left at the relay")
    signed_prekey: SignedPrekeyJson | None


class PrekeyBundleOut(BaseModel):
    """messaging.prekeys.PrekeyBundle.to_json(): verify it against the identity bundle"""

    address: str
    identity_key: str = Field(description="the Ed25519 key of the address's identity bundle, hex")
    signed_prekey: SignedPrekeyJson
    one_time_prekey: OneTimePrekeyJson | None = Field(description="null when they ran out")
