"""Fixtures of the operations tests (keys for production apps come from the trust tests' kit)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.trust.kit import SigningKey


@pytest.fixture(scope="session")
def es384_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP384R1()), "ops-es384", "ES384")
