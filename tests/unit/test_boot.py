"""pm_fast.boot: asyncio imported without ssl, and TLS working again once enabled.

Each check runs in a fresh interpreter: this one has imported asyncio long ago.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import datetime, sys, tempfile
from pm_fast.boot import enable_asyncio_tls, import_asyncio_without_ssl

import_asyncio_without_ssl()
assert "asyncio" in sys.modules
assert "ssl" not in sys.modules, "asyncio loaded ssl"
enable_asyncio_tls()

import asyncio, ssl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (
    x509.CertificateBuilder().subject_name(name).issuer_name(name)
    .public_key(key.public_key()).serial_number(1)
    .not_valid_before(now - datetime.timedelta(days=1))
    .not_valid_after(now + datetime.timedelta(days=1))
    .sign(key, hashes.SHA256())
)
tmp = tempfile.mkdtemp()
with open(f"{tmp}/c.pem", "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))
with open(f"{tmp}/k.pem", "wb") as f:
    f.write(key.private_bytes(serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


async def main():
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(f"{tmp}/c.pem", f"{tmp}/k.pem")
    client_ctx = ssl.create_default_context()
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE

    async def echo(reader, writer):
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    # TLS from the start, and upgraded with start_tls (how asyncpg negotiates it)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
    writer.write(b"one\n")
    assert await reader.readline() == b"one\n"
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await writer.start_tls(client_ctx)
    writer.write(b"two\n")
    assert await reader.readline() == b"two\n"
    writer.close()
    server.close()
    await server.wait_closed()


asyncio.run(main())
print("ok")
"""


def test_asyncio_without_ssl_then_tls_works() -> None:
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_nothing_happens_once_asyncio_is_imported() -> None:
    code = (
        "import asyncio, sys\n"
        "from pm_fast.boot import import_asyncio_without_ssl\n"
        "import_asyncio_without_ssl()\n"
        "import asyncio.base_events as b\n"
        "assert b.ssl is not None and sys.modules['ssl'] is b.ssl\n"
        "print('ok')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
