"""Local chain tools: `chain time`, `chain mine`, `chain up --port N` recorded, whose chain
holds the port, and restarts right after a stop (port probes with SO_REUSEADDR)."""

from __future__ import annotations

import socket

from test_transfers import one_line_error, point_local_at

from wallet.localchain import free_port
from wallet.process import port_free


def test_a_port_left_in_time_wait_is_free_for_a_new_server():
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        assert not port_free(port)  # a listener: in use
        accepted.close()  # the server closes first: its side lingers in TIME_WAIT
        client.close()
    assert port_free(port)


def test_time_and_mine_move_the_local_chain(cli, anvil, hongbao_home):
    point_local_at(hongbao_home, anvil)
    before = cli.json("chain", "time")
    moved = cli.json("chain", "time", "+25h")
    assert moved["timestamp"] >= before["timestamp"] + 25 * 3600 and moved["block"] == before["block"] + 1
    assert cli.json("chain", "mine", "3")["block"] == moved["block"] + 3
    assert cli.json("chain", "mine")["block"] == moved["block"] + 4
    one_line_error(cli("chain", "time", "--", "-1h", check=False), "only moves forward")
    one_line_error(cli("chain", "mine", "--network", "nowhere", check=False), "unknown network")


def test_up_on_a_port_is_found_by_every_command_and_restarts_at_once(cli, hongbao_home, tmp_path):
    port = free_port()
    other = {"HONGBAO_HOME": str(tmp_path / "other")}
    try:
        up = cli.json("chain", "up", "--port", str(port))
        assert up["url"] == f"http://127.0.0.1:{port}"
        status = cli.json("chain", "status")  # no --port: it was recorded
        assert (status["running"], status["url"], status["owner"]) == (True, up["url"], None)
        fresh = "0x" + "5a" * 20
        cli("faucet", fresh, "1")
        assert cli.json("balance", fresh)["balances"][0]["formatted"] == "1"

        # From another home: whose chain it is, and it is not stopped from there.
        theirs = cli.json("chain", "status", "--port", str(port), env=other)
        assert str(hongbao_home) in theirs["owner"]
        assert str(hongbao_home) in one_line_error(cli("chain", "down", "--port", str(port), env=other, check=False))
        assert str(hongbao_home) in one_line_error(cli("chain", "up", "--port", str(port), env=other, check=False))

        # A client holding a connection while the chain stops leaves the port in TIME_WAIT.
        with socket.create_connection(("127.0.0.1", port)) as client:
            request = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
            client.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(request)).encode()
                + b"\r\n\r\n"
                + request
            )
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
            assert cli.json("chain", "down") == {"stopped": True}
        assert cli.json("chain", "up")["running"] is True  # at once, not a minute later
    finally:
        cli("chain", "down", check=False)
