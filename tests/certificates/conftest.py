import pytest

from mamori.demo.pki import CertificateAuthority
from tests.support.env import require_binary
from tests.support.nginx import Nginx, find_nginx


@pytest.fixture(scope="session")
def test_ca() -> CertificateAuthority:
    return CertificateAuthority.create("Mamori Watch Test Root")


@pytest.fixture
def issuing_ca(test_ca) -> CertificateAuthority:
    return test_ca.intermediate("Mamori Watch Test Issuing CA")


@pytest.fixture
def nginx(tmp_path):
    require_binary("nginx", find_nginx() or "/usr/sbin/nginx")
    server = Nginx(tmp_path / "nginx")
    yield server
    server.stop()
