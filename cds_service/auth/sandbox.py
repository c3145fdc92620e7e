"""The CDS Hooks sandbox as a development-only issuer, from an inline copy of its public JWK Set.

The sandbox signs its JWTs with a private key published in its own repository, so anyone can mint a token
that verifies with this key. It is trusted only in the development profile and its `jku` is never fetched.
"""

from __future__ import annotations

from .issuers import TrustedIssuer

SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"

# Copy of the public key served at SANDBOX_JKU (ES384, P-384).
SANDBOX_JWKS: dict = {
    "keys": [
        {
            "kty": "EC",
            "use": "sig",
            "crv": "P-384",
            "kid": SANDBOX_KID,
            "x": "dw_JGR8nB2I6XveNxUOl2qk699ZPLM2nYI5STSdiEl9avAkrm3CkfYMbrrjr8laB",
            "y": "Sm3mLE-n1zYNla_aiE3cb3nZsL51RbC7ysw3q8aJLxGm-hx79RPMYpITDjp7kgzy",
            "alg": "ES384",
        }
    ]
}


def sandbox_issuer() -> TrustedIssuer:
    """No tenant (the sandbox sends none) and no fhirServer list: development does not enforce one."""
    return TrustedIssuer(
        iss=SANDBOX_ISS,
        keys=tuple(SANDBOX_JWKS["keys"]),
        jku=(SANDBOX_JKU,),
        fetch_jku=False,
    )
