import pytest

from mamori.inventory.models import Server, Site
from tests.support.env import require_binary
from tests.support.nginx import Nginx, find_nginx


@pytest.fixture
def nginx(tmp_path):
    require_binary("nginx", find_nginx() or "/usr/sbin/nginx")
    server = Nginx(tmp_path / "nginx")
    yield server
    server.stop()


@pytest.fixture
def web(nginx) -> str:
    """A running nginx serving a page over plain HTTP on loopback; its URL."""
    port = nginx.add_files("web", {"index.html": b"<h1>Welcome to ACME</h1>\n"})
    nginx.start()
    return f"http://127.0.0.1:{port}/index.html"


@pytest.fixture
def acme_site(acme) -> Site:
    server = Server.objects.create(client=acme, name="web1", kind="vps")
    return Site.objects.create(
        client=acme, name="www", url="https://www.acme.example/", server=server
    )
